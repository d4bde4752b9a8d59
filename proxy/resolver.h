// Upstream servers that move: host names in upstream.url / upstream.servers are resolved again
// while frontcache runs, and the server list itself changes on SIGHUP (configure()).
//
// Each name is looked up with c-ares (Debian's libc-ares) on the loop's thread pool — the DNS
// servers of upstream.resolver, or the system's — as often as its records' TTL says, kept
// within upstream.resolve_min_ttl .. resolve_max_ttl. What an answer changes goes to the
// Balancer (proxy/balancer.h):
//   - a new address is added Warming: the health checker checks it first (the health check, or
//     a connect) and promotes it into rotation when it passes;
//   - an address no longer in the answer (or a server no longer configured) is retired — no new
//     exchange goes there, those in flight and its idle connections drain — but only once some
//     other server is in rotation, so swapping every address (or the whole list) never leaves
//     a moment with none: the old ones serve until a new one has passed its check;
//   - a failed lookup (timeout, SERVFAIL, NXDOMAIN, no address) changes nothing: the last good
//     set stays, and the name is tried again within resolve_min_ttl..5 s.
// Address literals and Unix sockets are never looked up.
//
// Threading: the main loop's thread; a lookup blocks one thread of libuv's pool (one channel per
// lookup, nothing shared with the loop), one lookup at a time and each bounded (500 ms per try,
// two tries per DNS server) so the pool the workers share is never held by DNS for long. Ownership:
// owns its timers and lookups in flight (a lookup that ends after close() is dropped).
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/balancer.h"
#include "proxy/health_check.h"

namespace fc::proxy {

// One lookup of `host` with c-ares, blocking (up to about twice `timeoutMs`): its addresses
// with `port`, and the smallest TTL among them (seconds; -1 unknown), or why there are none.
// `servers`: upstream.resolver ("" = the system's). Also used at start-up when
// upstream.resolver is set, so the name is first resolved the way it will be again.
struct LookupAnswer {
    std::vector<sockaddr_storage> addresses;
    int ttl = -1;
    std::string error;
};
LookupAnswer lookupNow(const std::string &host, std::uint16_t port, const std::string &servers,
                       int timeoutMs);

class Resolver {
public:
    // `balancer` holds the start-up targets (resolved by the system, grouped by their
    // upstream.servers index).
    Resolver(uv_loop_t *loop, Balancer &balancer, HealthChecker &health,
             const config::UpstreamConfig &cfg);
    ~Resolver();
    Resolver(const Resolver &) = delete;
    Resolver &operator=(const Resolver &) = delete;

    void start();
    // SIGHUP: servers added (checked, then in rotation), removed (drained once another serves),
    // weights and backup flags changed in place; the resolver settings for what follows.
    void configure(const config::UpstreamConfig &cfg);
    void close();
    // The health checker promoted slot `server`: the addresses waiting for it may retire.
    void onPromoted(std::size_t server);

    // For the admin port: one row per configured server that is a host name.
    struct NameStatus {
        std::string url;
        std::size_t addresses = 0;    // Warming and Live
        std::int64_t lastGoodMs = -1; // uv_now() of the last answer with addresses; -1 never
        std::uint64_t ok = 0, failed = 0;
        std::string lastError;
    };
    std::vector<NameStatus> status() const;
    std::int64_t nowMs() const { return static_cast<std::int64_t>(uv_now(loop_)); }

    struct Group;
    struct Lookup;

private:
    friend struct Lookup;
    void schedule(Group &g, std::int64_t ms);
    void lookup(Group &g);
    void lookupNext();
    void answered(std::size_t groupId, Lookup &l);
    Group *find(std::size_t id);
    Group &addGroup(const config::UpstreamServer &s);
    void addAddress(Group &g, const sockaddr_storage &addr);
    void dropGroup(std::size_t index);
    void retirePending();

    uv_loop_t *loop_;
    Balancer &balancer_;
    HealthChecker &health_;
    config::UpstreamConfig cfg_;
    std::vector<std::unique_ptr<Group>> groups_;
    // Slots to retire once a replacement serves: `group` — an address gone from its name's
    // answer — once a slot of the same server is Live and up; kRemoved — a server removed on
    // reload — once any non-backup server left is.
    struct Retiring {
        std::size_t slot;
        std::size_t group;
    };
    static constexpr std::size_t kRemoved = static_cast<std::size_t>(-1);
    std::vector<Retiring> retiring_;
    bool busy_ = false; // one lookup at a time: the thread pool is shared with the workers
    std::size_t nextId_ = 0;
    bool closed_ = false;
};

} // namespace fc::proxy
