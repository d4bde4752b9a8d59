#include "proxy/balancer.h"

#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace fc::proxy {

namespace {
constexpr std::uint32_t kMaxBackoffDoublings = 4; // 16 x fail_timeout
} // namespace

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
    : targets_(std::move(targets)), state_(new State[targets_.size()]) {
    configure(cfg);
    // nginx's smooth weighted round-robin, unrolled once: each step every server gains its
    // weight, the one with most is picked and pays the total back. Weights 5, 1, 1 give
    // a a b a c a a — spread out, not a a a a a b c.
    std::vector<std::int64_t> current(targets_.size(), 0);
    std::int64_t total = 0;
    for (const auto &t : targets_)
        total += t.backup ? 0 : t.weight;
    for (std::int64_t step = 0; step < total; ++step) {
        int best = -1;
        for (std::size_t i = 0; i < targets_.size(); ++i) {
            if (targets_[i].backup)
                continue;
            current[i] += targets_[i].weight;
            if (best < 0 || current[i] > current[static_cast<std::size_t>(best)])
                best = static_cast<int>(i);
        }
        current[static_cast<std::size_t>(best)] -= total;
        wheel_.push_back(best);
    }
    for (const auto &t : targets_)
        wheelServers_ += t.backup ? 0 : 1;
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
    std::int64_t bestActive = state_[best].active.load(std::memory_order_relaxed);
    for (std::size_t k = 1; k < count; ++k) {
        int i = avail[(first + k) % count];
        std::int64_t a = state_[i].active.load(std::memory_order_relaxed);
        if (a * targets_[static_cast<std::size_t>(best)].weight <
            bestActive * targets_[static_cast<std::size_t>(i)].weight) {
            best = i;
            bestActive = a;
        }
    }
    return best;
}

Balancer::Pick Balancer::pick(std::int64_t nowMs, std::uint64_t exclude) {
    const std::size_t n = targets_.size();
    if (n == 1) {
        if ((exclude & 1) || state_[0].checkDown.load(std::memory_order_relaxed))
            return {};
        return {0, false};
    }
    const bool least = leastConnections_.load(std::memory_order_relaxed);
    // Whose turn it is rotates, so round-robin takes turns and least-connections breaks ties
    // evenly. A retry (something excluded) does not take a turn: otherwise, with one server
    // down, every retry would shift the rotation so the next request lands on it again.
    const std::uint64_t turn = exclude ? next_.load(std::memory_order_relaxed)
                                       : next_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t attempt = 0; attempt < n; ++attempt) {
        // The servers available now: the non-backup ones, or the backups when none is.
        int avail[config::UpstreamConfig::kMaxServers];
        std::size_t count = 0;
        bool inAvail[config::UpstreamConfig::kMaxServers] = {};
        for (int tier = 0; tier < 2 && count == 0; ++tier) {
            for (std::size_t i = 0; i < n; ++i) {
                const State &s = state_[i];
                if (targets_[i].backup != (tier == 1) || (exclude >> i) & 1 ||
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
            if (count == wheelServers_ && inAvail[wheel_[0]]) {
                best = wheel_[turn % wheel_.size()];
            } else {
                std::uint64_t sum = 0;
                for (std::size_t k = 0; k < count; ++k)
                    sum += targets_[static_cast<std::size_t>(avail[k])].weight;
                std::uint64_t r = turn % sum;
                for (std::size_t k = 0; k < count; ++k) {
                    const unsigned w = targets_[static_cast<std::size_t>(avail[k])].weight;
                    if (r < w) {
                        best = avail[k];
                        break;
                    }
                    r -= w;
                }
            }
        } else {
            best = fewestActive(avail, count, first);
        }
        State &s = state_[best];
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
    state_[i].active.fetch_add(1, std::memory_order_relaxed);
    state_[i].requests.fetch_add(1, std::memory_order_relaxed);
}

void Balancer::end(std::size_t i) {
    state_[i].active.fetch_sub(1, std::memory_order_relaxed);
}

void Balancer::succeeded(std::size_t i) {
    State &s = state_[i];
    // Loads first: the common case (nothing to reset) writes no shared cache line.
    if (s.fails.load(std::memory_order_relaxed) != 0)
        s.fails.store(0, std::memory_order_relaxed);
    if (s.downUntil.load(std::memory_order_relaxed) != 0 &&
        s.downUntil.exchange(0, std::memory_order_acq_rel) != 0) {
        s.retries.store(0, std::memory_order_relaxed);
        FC_WARN("upstream %s answers again: back in rotation", targets_[i].display.c_str());
    }
}

void Balancer::failed(std::size_t i, std::int64_t nowMs, bool trial, const char *reason) {
    State &s = state_[i];
    s.failures.fetch_add(1, std::memory_order_relaxed);
    if (!passive())
        return;
    std::uint32_t f = s.fails.fetch_add(1, std::memory_order_relaxed) + 1;
    if (trial) {
        std::uint32_t r = s.retries.fetch_add(1, std::memory_order_relaxed) + 1;
        std::int64_t wait = backoff(r);
        s.downUntil.store(nowMs + wait, std::memory_order_release);
        FC_WARN("upstream %s still failing (%s): next try in %lld ms", targets_[i].display.c_str(),
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
                targets_[i].display.c_str(), f, reason, static_cast<long long>(wait));
    }
}

void Balancer::checked(std::size_t i, bool ok, const std::string &why) {
    State &s = state_[i];
    if (ok) {
        s.checkFails.store(0, std::memory_order_relaxed);
        if (s.checkDown.exchange(false, std::memory_order_acq_rel))
            FC_WARN("upstream %s passes its health check: back in rotation",
                    targets_[i].display.c_str());
        succeeded(i); // evidence it is up: lifts a passive mark too
        return;
    }
    std::uint32_t f = s.checkFails.fetch_add(1, std::memory_order_relaxed) + 1;
    std::uint32_t need = std::max(1u, maxFails_.load(std::memory_order_relaxed));
    if (f >= need && !s.checkDown.exchange(true, std::memory_order_acq_rel)) {
        s.markedDown.fetch_add(1, std::memory_order_relaxed);
        FC_WARN("upstream %s marked down: health check failed %u time(s) in a row (%s)",
                targets_[i].display.c_str(), f, why.c_str());
    }
}

bool Balancer::up(std::size_t i) const {
    const State &s = state_[i];
    return !s.checkDown.load(std::memory_order_relaxed) &&
           s.downUntil.load(std::memory_order_relaxed) == 0;
}

std::vector<ServerSnapshot> Balancer::snapshot() const {
    std::vector<ServerSnapshot> out;
    for (std::size_t i = 0; i < targets_.size(); ++i) {
        const State &s = state_[i];
        ServerSnapshot v;
        v.display = targets_[i].display;
        v.up = up(i);
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
