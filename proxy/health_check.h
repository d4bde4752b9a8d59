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
// Threading: the main loop's thread (never a worker's). Ownership: owns one probe per server;
// close() stops the timers and closes any check in flight (handles free themselves in their close
// callbacks).
#pragma once

#include <uv.h>

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

    // Starts the checks; does nothing when upstream.health_check is "".
    void start();
    void close();
    // A check's outcome (called by the check itself).
    void report(std::size_t server, bool ok, const std::string &why);

    struct Probe; // one server's timer and its check in flight

private:
    uv_loop_t *loop_;
    Balancer &balancer_;
    config::UpstreamConfig cfg_;
    std::vector<Probe *> probes_; // freed in their timers' close callbacks
};

} // namespace fc::proxy
