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
// Membership changes while it runs (proxy/resolver.h: a host name's addresses change, SIGHUP
// changes upstream.servers). Targets live in a fixed table of slots (kSlots, the most servers
// upstream.servers may name — the bit masks of tried servers have one bit each); a slot is
//   Empty -> Warming (added; not picked until its first check passes: promote())
//         -> Live (in rotation) -> Retired (no new exchange; those in flight and idle
//            keep-alive connections drain) -> reused for another address once no connection
//            is left to it (hold/unhold) and kReuseAfterMs have passed.
// A slot's target and the rotation are immutable objects published through atomic pointers;
// one that is replaced is freed an hour later (nothing reads one longer than a log line takes),
// so a worker never sees a target change under it and picks take no lock.
//
// Threading: picks, outcomes and reads from any thread; membership changes (add, promote,
// retire, update) from one thread at a time (the main loop). Ownership: owns the targets.
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

// One address of one upstream server: what a connection dials.
struct UpstreamTarget {
    config::UpstreamConfig::Kind kind = config::UpstreamConfig::Kind::Tcp;
    sockaddr_storage addr{};
    std::string path;      // unix socket
    std::string display;   // the URL as configured
    std::string hostField; // Host header for health checks: "host:port" (or "localhost")
    unsigned weight = 1;   // upstream.servers' weight
    bool backup = false;   // used only while no other server is available
    std::size_t group = 0; // the upstream.servers entry it came from (proxy/resolver.h)
    std::size_t pool = 0;  // the upstream group it serves (config::UpstreamServer::pool)
};

// A configured server as a target, without its address (set by the caller once resolved, or by
// this function for a numeric host): kind, weight, backup, pool, display, Host field. `group` is
// its upstream.servers entry. The one place a target is made from a server.
UpstreamTarget targetFor(const config::UpstreamServer &s, std::size_t group);

// The targets of one server whose host name resolved to `addresses` (getaddrinfo's list): one per
// distinct address, each a copy of `base` (weight, backup, Host field) with its address; with
// more than one, each display is "URL (address)" so metrics and logs tell them apart.
std::vector<UpstreamTarget> targetsFor(const UpstreamTarget &base, const std::string &url,
                                       const addrinfo *addresses);

// One server as the admin port shows it.
struct ServerSnapshot {
    std::string display;
    const char *phase = "live"; // "warming" (added, not yet checked), "live", "retired" (draining)
    bool up = true;             // not left out by either rule
    bool checkFailing = false;  // the active check has it down
    std::int64_t active = 0;    // exchanges in flight, all workers
    std::uint64_t requests = 0, failures = 0, markedDown = 0;
};

class Balancer {
public:
    struct Pick {
        int server = -1;    // -1: none available
        bool trial = false; // the one request allowed to a server after its back-off
    };

    Balancer(const Balancer &) = delete;
    Balancer &operator=(const Balancer &) = delete;

    enum class Phase : std::uint8_t { Empty, Warming, Live, Retired };
    static constexpr std::size_t kSlots = config::UpstreamConfig::kMaxServers;
    static constexpr std::int64_t kReuseAfterMs = 10'000;

    // Every target given is Live (start-up: resolved and configured, checked as before).
    Balancer(std::vector<UpstreamTarget> targets, const config::UpstreamConfig &cfg);
    ~Balancer();
    // balance, max_fails and fail_timeout (SIGHUP reload).
    void configure(const config::UpstreamConfig &cfg);

    // Slots used so far: every index below it has a target (whatever its phase now).
    std::size_t size() const { return used_.load(std::memory_order_acquire); }
    const UpstreamTarget &target(std::size_t i) const {
        return *slots_[i].target.load(std::memory_order_acquire);
    }
    Phase phase(std::size_t i) const { return slots_[i].phase.load(std::memory_order_acquire); }
    // Servers in rotation now (of one upstream group, `pool`).
    std::size_t liveCount(std::size_t pool = 0) const {
        return wheel_.load(std::memory_order_acquire)->pools[pool].live;
    }
    static constexpr std::size_t kPools = config::UpstreamConfig::kMaxGroups + 1;

    // --- membership (one thread at a time) ---
    // A new target in an Empty slot (or a Retired one that has drained), Live at once or
    // Warming until promote(). Returns the slot, or -1 when every slot is taken.
    int add(UpstreamTarget t, bool live, std::int64_t nowMs);
    void promote(std::size_t i, std::int64_t nowMs);
    // Out of rotation for good: nothing new goes there; what is in flight finishes.
    void retire(std::size_t i, std::int64_t nowMs);
    // The same address with new settings (weight, backup): in rotation as it is.
    void update(std::size_t i, UpstreamTarget t, std::int64_t nowMs);
    // A connection to slot i opens / is gone (the pools): a slot is reused only when none is left.
    void hold(std::size_t i) { slots_[i].refs.fetch_add(1, std::memory_order_relaxed); }
    void unhold(std::size_t i) { slots_[i].refs.fetch_sub(1, std::memory_order_relaxed); }

    // Chooses the server of upstream group `pool` for a new exchange, skipping servers in
    // `exclude` (bit i = server i, those already tried for this request). Each group balances
    // among its own servers (its own rotation, backups and one-server rule). Precondition:
    // pool < kPools (the config allows no more groups).
    Pick pick(std::int64_t nowMs, std::uint64_t exclude = 0, std::size_t pool = 0);

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
        void reset();
    };
    struct Slot {
        std::atomic<const UpstreamTarget *> target{nullptr};
        std::atomic<Phase> phase{Phase::Empty};
        std::atomic<std::int64_t> refs{0}; // connections open to it, every worker
        std::int64_t retiredAt = 0;        // membership thread only
        State state;
    };
    // The rotation: nginx's smooth weighted round-robin over the Live non-backup servers,
    // unrolled once, and what picks need to know about the Live set. Rebuilt on each change.
    struct Wheel {
        struct Pool {
            std::vector<int> order;
            std::size_t servers = 0; // Live non-backup servers (those `order` holds)
            std::size_t live = 0;    // Live servers, backups too
            int only = -1;           // the one Live server when there is exactly one
        };
        Pool pools[kPools]; // one rotation per upstream group
    };
    // The passive rule for server i: on while its group has another server to turn to.
    bool passive(std::size_t i) const {
        return liveCount(target(i).pool) > 1 && maxFails_.load(std::memory_order_relaxed) > 0;
    }
    std::int64_t backoff(std::uint32_t retries) const;
    // least_connections: the server of avail[0..count) to pick, avail[first]'s turn.
    int fewestActive(const int *avail, std::size_t count, std::size_t first) const;
    void publish(std::size_t i, UpstreamTarget t, std::int64_t nowMs);
    void rebuildWheel(std::int64_t nowMs);
    void collect(std::int64_t nowMs); // frees what was replaced more than an hour ago

    std::unique_ptr<Slot[]> slots_;
    std::atomic<std::size_t> used_{0};
    std::atomic<const Wheel *> wheel_{nullptr};
    // Replaced targets and wheels, with when: freed by collect() after kGraceMs.
    static constexpr std::int64_t kGraceMs = 3'600'000;
    std::vector<std::pair<std::int64_t, std::unique_ptr<const UpstreamTarget>>> oldTargets_;
    std::vector<std::pair<std::int64_t, std::unique_ptr<const Wheel>>> oldWheels_;
    // Each group's round-robin position (its own: interleaved picks of two groups must not
    // skew either one's rotation), one cache line each.
    struct alignas(64) Turn {
        std::atomic<std::uint64_t> next{0};
    };
    Turn turns_[kPools];
    std::atomic<bool> leastConnections_{false};
    std::atomic<std::uint32_t> maxFails_{3};
    std::atomic<std::int64_t> failTimeoutMs_{10000};
};

} // namespace fc::proxy
