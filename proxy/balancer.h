// Several upstream servers: which one a request goes to, and which ones are left out because
// they failed (passive health) or their health check fails (active health).
//
// The state is shared by every worker and the health checker: per-server atomics only, no lock
// (a pick is a handful of relaxed loads and one fetch_add). Time is passed in (milliseconds on
// one monotonic clock, uv_now() in the proxy) so the rules are unit-tested without sleeping.
//
// The rules, after nginx's max_fails/fail_timeout and Varnish's probes:
// - Passive (two or more servers, upstream.max_fails > 0): a server whose exchanges fail
//   max_fails times in a row (refused, connect or read timeout, reset, malformed response — not
//   an HTTP 5xx, which is the application answering) is left out for upstream.fail_timeout.
//   After that one request (the "trial") may use it; the others keep away until it reports. A
//   successful trial brings the server back; a failed one doubles the wait, up to 16 times
//   fail_timeout. Any successful exchange resets the count.
// - Active (upstream.health_check): a server whose check fails max_fails times in a row (at
//   least once) is left out until a check passes; a passing check also lifts a passive mark, so
//   a restarted server is back within one health_interval.
// - Weights: round-robin follows a smooth weighted sequence (weights 5, 1, 1 give
//   a a b a c a a), least-connections compares exchanges in flight divided by weight. While a
//   server is left out its turns are spread evenly over those still in.
// - Backup servers are picked only while no other server is available.
// - With one server the passive rule is off (leaving out the only server helps nobody; its
//   errors are answered, or served stale, as they come); the active rule applies.
//
// Threading: every method may be called from any thread. Ownership: holds the resolved targets.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace fc::proxy {

// Resolved address of one upstream server, computed once at start-up.
struct UpstreamTarget {
    config::UpstreamConfig::Kind kind = config::UpstreamConfig::Kind::Tcp;
    sockaddr_storage addr{};
    std::string path;      // unix socket
    std::string display;   // the URL as configured
    std::string hostField; // Host header for health checks: "host:port" (or "localhost")
    unsigned weight = 1;   // upstream.servers' weight
    bool backup = false;   // used only while no other server is available
};

// The targets of one server whose host name resolved to `addresses` (getaddrinfo's list): one per
// distinct address, each a copy of `base` (weight, backup, Host field) with its address; with
// more than one, each display is "URL (address)" so metrics and logs tell them apart.
std::vector<UpstreamTarget> targetsFor(const UpstreamTarget &base, const std::string &url,
                                       const addrinfo *addresses);

// One server as the admin port shows it.
struct ServerSnapshot {
    std::string display;
    bool up = true;            // not left out by either rule
    bool checkFailing = false; // the active check has it down
    std::int64_t active = 0;   // exchanges in flight, all workers
    std::uint64_t requests = 0, failures = 0, markedDown = 0;
};

class Balancer {
public:
    struct Pick {
        int server = -1;    // -1: none available
        bool trial = false; // the one request allowed to a server after its back-off
    };

    Balancer(std::vector<UpstreamTarget> targets, const config::UpstreamConfig &cfg);
    Balancer(const Balancer &) = delete;
    Balancer &operator=(const Balancer &) = delete;

    // balance, max_fails and fail_timeout (SIGHUP reload); the server list is fixed.
    void configure(const config::UpstreamConfig &cfg);

    std::size_t size() const { return targets_.size(); }
    const UpstreamTarget &target(std::size_t i) const { return targets_[i]; }

    // Chooses the server for a new exchange, skipping servers in `exclude` (bit i = server i,
    // those already tried for this request).
    Pick pick(std::int64_t nowMs, std::uint64_t exclude = 0);

    // An exchange holds server i (least-connections counts these, across workers).
    void begin(std::size_t i);
    void end(std::size_t i);
    // Outcome of an exchange: a response head arrived / it failed at the transport level.
    void succeeded(std::size_t i);
    void failed(std::size_t i, std::int64_t nowMs, bool trial, const char *reason);
    // Outcome of one active health check.
    void checked(std::size_t i, bool ok, const std::string &why);

    // True when server i is not left out by either rule (a trial may still be pending).
    bool up(std::size_t i) const;
    std::vector<ServerSnapshot> snapshot() const;

private:
    struct alignas(64) State {
        std::atomic<std::uint32_t> fails{0};    // consecutive failed exchanges
        std::atomic<std::uint32_t> retries{0};  // failed trials since it was left out
        std::atomic<std::int64_t> downUntil{0}; // 0 = in; else when a trial may go (ms)
        std::atomic<std::uint32_t> checkFails{0};
        std::atomic<bool> checkDown{false};
        std::atomic<std::int64_t> active{0};
        std::atomic<std::uint64_t> requests{0}, failures{0}, markedDown{0};
    };
    bool passive() const {
        return targets_.size() > 1 && maxFails_.load(std::memory_order_relaxed) > 0;
    }
    std::int64_t backoff(std::uint32_t retries) const;
    // least_connections: the server of avail[0..count) to pick, avail[first]'s turn.
    int fewestActive(const int *avail, std::size_t count, std::size_t first) const;

    std::vector<UpstreamTarget> targets_;
    std::unique_ptr<State[]> state_;
    std::vector<int> wheel_;       // the non-backup servers in smooth weighted round-robin order
    std::size_t wheelServers_ = 0; // how many servers the wheel holds
    std::atomic<std::uint64_t> next_{0}; // round-robin position
    std::atomic<bool> leastConnections_{false};
    std::atomic<std::uint32_t> maxFails_{3};
    std::atomic<std::int64_t> failTimeoutMs_{10000};
};

} // namespace fc::proxy
