#include "proxy/balancer.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace fc::proxy {

namespace {
constexpr std::uint32_t kMaxBackoffDoublings = 4; // 16 x fail_timeout
} // namespace

UpstreamTarget targetFor(const config::UpstreamServer &s, std::size_t group) {
    UpstreamTarget t;
    t.kind = s.kind;
    t.weight = s.weight;
    t.backup = s.backup;
    t.group = group;
    t.pool = s.pool;
    t.display = s.url;
    if (s.kind == config::UpstreamServer::Kind::Unix) {
        t.path = s.path;
        t.hostField = "localhost";
        return t;
    }
    const bool v6 = s.host.find(':') != std::string::npos;
    t.hostField = (v6 ? "[" + s.host + "]" : s.host) + ":" + std::to_string(s.port);
    // A numeric host is its own address; a name is resolved by the caller.
    if (v6) {
        auto *a = reinterpret_cast<sockaddr_in6 *>(&t.addr);
        if (inet_pton(AF_INET6, s.host.c_str(), &a->sin6_addr) == 1) {
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(s.port);
        }
    } else {
        auto *a = reinterpret_cast<sockaddr_in *>(&t.addr);
        if (inet_pton(AF_INET, s.host.c_str(), &a->sin_addr) == 1) {
            a->sin_family = AF_INET;
            a->sin_port = htons(s.port);
        }
    }
    return t;
}

std::vector<UpstreamTarget> targetsFor(const UpstreamTarget &base, const std::string &url,
                                       const addrinfo *addresses) {
    std::vector<UpstreamTarget> found;
    for (const addrinfo *ai = addresses; ai; ai = ai->ai_next) {
        bool seen = false;
        for (const auto &f : found)
            seen |= std::memcmp(&f.addr, ai->ai_addr, ai->ai_addrlen) == 0;
        if (seen)
            continue;
        UpstreamTarget one = base;
        one.addr = {};
        std::memcpy(&one.addr, ai->ai_addr, ai->ai_addrlen);
        one.display = url;
        char host[NI_MAXHOST];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, nullptr, 0,
                        NI_NUMERICHOST) == 0)
            one.display += std::string(" (") + host + ")";
        found.push_back(std::move(one));
    }
    if (found.size() == 1)
        found[0].display = url; // one address: the URL says it all
    return found;
}

Balancer::Balancer(std::vector<UpstreamTarget> targets, const config::UpstreamConfig &cfg)
    : slots_(new Slot[kSlots]) {
    configure(cfg);
    for (auto &t : targets)
        add(std::move(t), true, 0);
    if (!wheel_.load(std::memory_order_relaxed))
        rebuildWheel(0); // no target at all (tests)
}

Balancer::~Balancer() {
    for (std::size_t i = 0; i < kSlots; ++i)
        delete slots_[i].target.load(std::memory_order_relaxed);
    delete wheel_.load(std::memory_order_relaxed);
}

void Balancer::State::reset() {
    for (auto *a : {&fails, &retries, &checkFails})
        a->store(0, std::memory_order_relaxed);
    for (auto *a : {&downUntil, &active})
        a->store(0, std::memory_order_relaxed);
    for (auto *a : {&requests, &failures, &markedDown})
        a->store(0, std::memory_order_relaxed);
    checkDown.store(false, std::memory_order_relaxed);
}

// The target of slot i becomes `t`; the one it replaces is kept an hour for readers still on it.
void Balancer::publish(std::size_t i, UpstreamTarget t, std::int64_t nowMs) {
    const UpstreamTarget *old =
        slots_[i].target.exchange(new UpstreamTarget(std::move(t)), std::memory_order_acq_rel);
    if (old)
        oldTargets_.emplace_back(nowMs, old);
}

int Balancer::add(UpstreamTarget t, bool live, std::int64_t nowMs) {
    collect(nowMs);
    std::size_t used = size();
    std::size_t i = 0;
    for (; i < used; ++i) {
        Slot &s = slots_[i];
        const Phase p = s.phase.load(std::memory_order_relaxed);
        if (p == Phase::Empty ||
            (p == Phase::Retired && s.refs.load(std::memory_order_acquire) == 0 &&
             s.state.active.load(std::memory_order_relaxed) == 0 &&
             nowMs - s.retiredAt >= kReuseAfterMs))
            break;
    }
    if (i == kSlots)
        return -1;
    Slot &s = slots_[i];
    s.state.reset();
    publish(i, std::move(t), nowMs);
    s.phase.store(live ? Phase::Live : Phase::Warming, std::memory_order_release);
    if (i == used)
        used_.store(used + 1, std::memory_order_release);
    if (live)
        rebuildWheel(nowMs);
    return static_cast<int>(i);
}

void Balancer::promote(std::size_t i, std::int64_t nowMs) {
    if (phase(i) != Phase::Warming)
        return;
    slots_[i].phase.store(Phase::Live, std::memory_order_release);
    rebuildWheel(nowMs);
}

void Balancer::retire(std::size_t i, std::int64_t nowMs) {
    const Phase p = phase(i);
    if (p == Phase::Retired || p == Phase::Empty)
        return;
    slots_[i].retiredAt = nowMs;
    slots_[i].phase.store(Phase::Retired, std::memory_order_release);
    if (p == Phase::Live)
        rebuildWheel(nowMs);
}

void Balancer::update(std::size_t i, UpstreamTarget t, std::int64_t nowMs) {
    publish(i, std::move(t), nowMs);
    if (phase(i) == Phase::Live)
        rebuildWheel(nowMs);
}

// nginx's smooth weighted round-robin, unrolled once: each step every server gains its weight,
// the one with most is picked and pays the total back. Weights 5, 1, 1 give a a b a c a a —
// spread out, not a a a a a b c.
void Balancer::rebuildWheel(std::int64_t nowMs) {
    collect(nowMs);
    auto w = std::make_unique<Wheel>();
    const std::size_t n = size();
    for (std::size_t pool = 0; pool < kPools; ++pool) {
        Wheel::Pool &p = w->pools[pool];
        auto inPool = [&](std::size_t i) {
            return phase(i) == Phase::Live && target(i).pool == pool;
        };
        std::vector<std::int64_t> current(n, 0);
        std::int64_t total = 0;
        int last = -1;
        for (std::size_t i = 0; i < n; ++i) {
            if (!inPool(i))
                continue;
            ++p.live;
            last = static_cast<int>(i);
            if (!target(i).backup) {
                total += target(i).weight;
                ++p.servers;
            }
        }
        p.only = p.live == 1 ? last : -1;
        for (std::int64_t step = 0; step < total; ++step) {
            int best = -1;
            for (std::size_t i = 0; i < n; ++i) {
                if (!inPool(i) || target(i).backup)
                    continue;
                current[i] += target(i).weight;
                if (best < 0 || current[i] > current[static_cast<std::size_t>(best)])
                    best = static_cast<int>(i);
            }
            current[static_cast<std::size_t>(best)] -= total;
            p.order.push_back(best);
        }
    }
    if (const Wheel *old = wheel_.exchange(w.release(), std::memory_order_acq_rel))
        oldWheels_.emplace_back(nowMs, old);
}

void Balancer::collect(std::int64_t nowMs) {
    std::erase_if(oldTargets_, [&](const auto &e) { return nowMs - e.first >= kGraceMs; });
    std::erase_if(oldWheels_, [&](const auto &e) { return nowMs - e.first >= kGraceMs; });
}

void Balancer::configure(const config::UpstreamConfig &cfg) {
    leastConnections_.store(cfg.balance == config::UpstreamConfig::Balance::LeastConnections,
                            std::memory_order_relaxed);
    maxFails_.store(cfg.maxFails, std::memory_order_relaxed);
    failTimeoutMs_.store(cfg.failTimeout.count(), std::memory_order_relaxed);
}

std::int64_t Balancer::backoff(std::uint32_t retries) const {
    return failTimeoutMs_.load(std::memory_order_relaxed)
           << std::min(retries, kMaxBackoffDoublings);
}

// Fewest exchanges in flight per unit of weight: a/wa < b/wb, cross-multiplied. The walk starts
// at avail[first], whose turn it is, so a tie goes to it.
int Balancer::fewestActive(const int *avail, std::size_t count, std::size_t first) const {
    int best = avail[first];
    std::int64_t bestActive =
        slots_[static_cast<std::size_t>(best)].state.active.load(std::memory_order_relaxed);
    for (std::size_t k = 1; k < count; ++k) {
        int i = avail[(first + k) % count];
        std::int64_t a = slots_[i].state.active.load(std::memory_order_relaxed);
        if (a * target(static_cast<std::size_t>(best)).weight <
            bestActive * target(static_cast<std::size_t>(i)).weight) {
            best = i;
            bestActive = a;
        }
    }
    return best;
}

Balancer::Pick Balancer::pick(std::int64_t nowMs, std::uint64_t exclude, std::size_t pool) {
    const Wheel::Pool &w = wheel_.load(std::memory_order_acquire)->pools[pool];
    // One server: no turn to take (no shared counter written). The wheel is published after the
    // phases it was made from: a slot retired since falls through to the general walk.
    if (w.only >= 0 && phase(static_cast<std::size_t>(w.only)) == Phase::Live) {
        const auto i = static_cast<std::size_t>(w.only);
        if ((exclude >> i) & 1 || slots_[i].state.checkDown.load(std::memory_order_relaxed))
            return {};
        return {w.only, false};
    }
    const std::size_t n = size();
    const bool least = leastConnections_.load(std::memory_order_relaxed);
    // Whose turn it is rotates, so round-robin takes turns and least-connections breaks ties
    // evenly. A retry (something excluded) does not take a turn: otherwise, with one server
    // down, every retry would shift the rotation so the next request lands on it again.
    std::atomic<std::uint64_t> &next = turns_[pool].next;
    const std::uint64_t turn = exclude ? next.load(std::memory_order_relaxed)
                                       : next.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t attempt = 0; attempt < n; ++attempt) {
        // The servers available now: the non-backup ones, or the backups when none is.
        int avail[kSlots];
        std::size_t count = 0;
        bool inAvail[kSlots] = {};
        for (int tier = 0; tier < 2 && count == 0; ++tier) {
            for (std::size_t i = 0; i < n; ++i) {
                const State &s = slots_[i].state;
                if (phase(i) != Phase::Live || target(i).pool != pool ||
                    target(i).backup != (tier == 1) || (exclude >> i) & 1 ||
                    s.checkDown.load(std::memory_order_relaxed))
                    continue;
                std::int64_t d = s.downUntil.load(std::memory_order_relaxed);
                if (d == 0 || d <= nowMs) {
                    avail[count++] = static_cast<int>(i);
                    inAvail[i] = true;
                }
            }
        }
        if (count == 0)
            return {};
        // Whose turn: the smooth weighted sequence while every non-backup server is in;
        // otherwise the turn counts among the servers available now, by weight, so a server left
        // out does not hand all its turns to its neighbour (with [a, b, down]: a and b
        // alternate, not 2:1).
        const std::size_t first = turn % count;
        int best = avail[first];
        if (!least) {
            // (The wheel may predate a phase change a moment ago: its choice must be available.)
            if (count == w.servers && !w.order.empty() && inAvail[w.order[0]] &&
                inAvail[w.order[turn % w.order.size()]]) {
                best = w.order[turn % w.order.size()];
            } else {
                std::uint64_t sum = 0;
                for (std::size_t k = 0; k < count; ++k)
                    sum += target(static_cast<std::size_t>(avail[k])).weight;
                std::uint64_t r = turn % sum;
                for (std::size_t k = 0; k < count; ++k) {
                    const unsigned weight = target(static_cast<std::size_t>(avail[k])).weight;
                    if (r < weight) {
                        best = avail[k];
                        break;
                    }
                    r -= weight;
                }
            }
        } else {
            best = fewestActive(avail, count, first);
        }
        State &s = slots_[static_cast<std::size_t>(best)].state;
        std::int64_t d = s.downUntil.load(std::memory_order_acquire);
        if (d == 0)
            return {best, false};
        // Its back-off is over: this request is the trial. Moving downUntil on keeps every other
        // request away until the trial reports (or, if it never does, until the next back-off).
        std::int64_t next = nowMs + backoff(s.retries.load(std::memory_order_relaxed));
        if (s.downUntil.compare_exchange_strong(d, next, std::memory_order_acq_rel))
            return {best, true};
        // Another request took the trial (or it came back): look again.
    }
    return {};
}

void Balancer::begin(std::size_t i) {
    slots_[i].state.active.fetch_add(1, std::memory_order_relaxed);
    slots_[i].state.requests.fetch_add(1, std::memory_order_relaxed);
}

void Balancer::end(std::size_t i) {
    slots_[i].state.active.fetch_sub(1, std::memory_order_relaxed);
}

void Balancer::succeeded(std::size_t i) {
    State &s = slots_[i].state;
    // Loads first: the common case (nothing to reset) writes no shared cache line.
    if (s.fails.load(std::memory_order_relaxed) != 0)
        s.fails.store(0, std::memory_order_relaxed);
    if (s.downUntil.load(std::memory_order_relaxed) != 0 &&
        s.downUntil.exchange(0, std::memory_order_acq_rel) != 0) {
        s.retries.store(0, std::memory_order_relaxed);
        FC_WARN("upstream %s answers again: back in rotation", target(i).display.c_str());
    }
}

void Balancer::failed(std::size_t i, std::int64_t nowMs, bool trial, const char *reason) {
    State &s = slots_[i].state;
    s.failures.fetch_add(1, std::memory_order_relaxed);
    if (!passive(i))
        return;
    std::uint32_t f = s.fails.fetch_add(1, std::memory_order_relaxed) + 1;
    if (trial) {
        std::uint32_t r = s.retries.fetch_add(1, std::memory_order_relaxed) + 1;
        std::int64_t wait = backoff(r);
        s.downUntil.store(nowMs + wait, std::memory_order_release);
        FC_WARN("upstream %s still failing (%s): next try in %lld ms", target(i).display.c_str(),
                reason, static_cast<long long>(wait));
        return;
    }
    if (f < maxFails_.load(std::memory_order_relaxed))
        return;
    std::int64_t zero = 0;
    std::int64_t wait = backoff(0);
    if (s.downUntil.compare_exchange_strong(zero, nowMs + wait, std::memory_order_acq_rel)) {
        s.retries.store(0, std::memory_order_relaxed);
        s.markedDown.fetch_add(1, std::memory_order_relaxed);
        FC_WARN("upstream %s marked down after %u failures in a row (last: %s); next try in %lld "
                "ms",
                target(i).display.c_str(), f, reason, static_cast<long long>(wait));
    }
}

void Balancer::checked(std::size_t i, bool ok, const std::string &why) {
    State &s = slots_[i].state;
    if (ok) {
        s.checkFails.store(0, std::memory_order_relaxed);
        if (s.checkDown.exchange(false, std::memory_order_acq_rel))
            FC_WARN("upstream %s passes its health check: back in rotation",
                    target(i).display.c_str());
        succeeded(i); // evidence it is up: lifts a passive mark too
        return;
    }
    std::uint32_t f = s.checkFails.fetch_add(1, std::memory_order_relaxed) + 1;
    std::uint32_t need = std::max(1u, maxFails_.load(std::memory_order_relaxed));
    if (f >= need && !s.checkDown.exchange(true, std::memory_order_acq_rel)) {
        s.markedDown.fetch_add(1, std::memory_order_relaxed);
        FC_WARN("upstream %s marked down: health check failed %u time(s) in a row (%s)",
                target(i).display.c_str(), f, why.c_str());
    }
}

bool Balancer::up(std::size_t i) const {
    const State &s = slots_[i].state;
    return !s.checkDown.load(std::memory_order_relaxed) &&
           s.downUntil.load(std::memory_order_relaxed) == 0;
}

std::vector<ServerSnapshot> Balancer::snapshot() const {
    std::vector<ServerSnapshot> out;
    for (std::size_t i = 0; i < size(); ++i) {
        const Phase p = phase(i);
        const State &s = slots_[i].state;
        // A retired address is shown while connections to it drain, then no more.
        if (p == Phase::Empty ||
            (p == Phase::Retired && slots_[i].refs.load(std::memory_order_relaxed) == 0))
            continue;
        ServerSnapshot v;
        // A retired address may come back in a new slot while this one drains: its series
        // are told apart.
        v.display = target(i).display + (p == Phase::Retired ? " (draining)" : "");
        v.phase = p == Phase::Warming ? "warming" : p == Phase::Live ? "live" : "retired";
        v.up = p == Phase::Live && up(i);
        v.checkFailing = s.checkDown.load(std::memory_order_relaxed);
        v.active = s.active.load(std::memory_order_relaxed);
        v.requests = s.requests.load(std::memory_order_relaxed);
        v.failures = s.failures.load(std::memory_order_relaxed);
        v.markedDown = s.markedDown.load(std::memory_order_relaxed);
        out.push_back(std::move(v));
    }
    return out;
}

} // namespace fc::proxy
