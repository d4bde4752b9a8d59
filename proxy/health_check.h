// Active health checks (upstream.health_check): every upstream.health_interval, each server gets
// `GET <path> HTTP/1.1` on a fresh connection (Host: upstream.health_check_host, or the
// server's host:port; Connection: close). A 2xx or 3xx status line within upstream.health_timeout
// passes; anything else — refused, timeout, another status, not HTTP — fails. Results go to the
// Balancer, which leaves a failing server out (see proxy/balancer.h). The first round runs at
// start-up.
//
// Only the status line is read: a check costs the application one cheap request and us a few
// hundred bytes, and never touches the cache.
//
// Addresses added while running (proxy/resolver.h) are Warming: each gets checked before any
// request goes there — the health check when one is configured, else a connect — every
// health_interval (every second without a health check) until one passes; the server is then
// promoted into rotation and onPromoted is called.
//
// Threading: the main loop's thread (never a worker's). Ownership: owns one probe per server;
// close() stops the timers and closes any check in flight (handles free themselves in their close
// callbacks).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/balancer.h"

namespace fc::proxy {

class HealthChecker {
public:
    HealthChecker(uv_loop_t *loop, Balancer &balancer, const config::UpstreamConfig &cfg);
    ~HealthChecker();
    HealthChecker(const HealthChecker &) = delete;
    HealthChecker &operator=(const HealthChecker &) = delete;

    // Starts the checks (sync()).
    void start();
    // The balancer's slots changed: a probe for every Warming slot, and for every Live one with
    // upstream.health_check; none for the others.
    void sync();
    void close();
    // A check's outcome (called by the check itself).
    void report(std::size_t server, bool ok, const std::string &why);
    // A Warming server passed its first check and is in rotation now.
    std::function<void(std::size_t server)> onPromoted;

    struct Probe; // one server's timer and its check in flight

private:
    void stopProbe(std::size_t server);

    uv_loop_t *loop_;
    Balancer &balancer_;
    config::UpstreamConfig cfg_;
    std::vector<Probe *> probes_; // by slot (nullptr: none); freed in their timers' close callbacks
    bool started_ = false;
};

} // namespace fc::proxy
