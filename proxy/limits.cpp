#include "proxy/limits.h"

#include <arpa/inet.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <random>

#include "cache/policy/request.h"

namespace fc::proxy {

ClientBudget::ClientBudget() : cells_(new Cell[kCells]) {
    std::random_device rd;
    seed_ = (std::uint64_t{rd()} << 32) ^ rd();
}

std::string_view ClientBudget::className(const config::LimitsConfig &cfg, int cls) {
    if (cls <= 0 || static_cast<std::size_t>(cls) > cfg.classes.size())
        return "default";
    return cfg.classes[static_cast<std::size_t>(cls) - 1].name;
}

namespace {
constexpr std::uint64_t kTimeMax = (std::uint64_t{1} << 48) - 1; // µs: 8.9 years of uptime
std::uint16_t fingerprint(std::uint64_t hash) {
    return static_cast<std::uint16_t>((hash >> 48) | 1);
}
std::uint64_t pack(std::uint64_t us, std::uint16_t fp) {
    return (std::min(us, kTimeMax) << 16) | fp;
}
std::uint64_t timeOf(std::uint64_t word) {
    return word >> 16;
}
} // namespace

// The client's cell: its own (same tag and fingerprint), else an empty or idle one taken over,
// else the one idle longest of the four probed. Taking over sets the word first (time and
// fingerprint in one compare-and-swap), then the tag. Two threads of one client may look at once:
// a word that already carries this client's fingerprint (claimed a moment ago, its tag about to
// follow) is taken as its own, so a client never ends up with two cells and two budgets.
ClientBudget::Cell &ClientBudget::cellFor(std::uint64_t hash, std::uint64_t nowUs) {
    const std::uint64_t tag = hash | 1; // 0 marks an empty cell
    const std::uint16_t fp = fingerprint(hash);
    const auto ours = [&](Cell &c, std::uint64_t w) {
        const std::uint64_t t = c.tag.load(std::memory_order_acquire);
        return w != 0 && (w & 0xffff) == fp && (t == tag || t == 0);
    };
    for (std::size_t k = 0; k < 4; ++k) {
        Cell &c = cells_[(hash + k) & (kCells - 1)];
        if (ours(c, c.word.load(std::memory_order_acquire)))
            return c;
    }
    // Claims `c` from its observed word `w`; false when `c` turned out to be someone else's and
    // `mayTake` no longer holds for it.
    const auto claim = [&](Cell &c, std::uint64_t w, auto mayTake) {
        for (;;) {
            if (ours(c, w))
                return true;
            if (!mayTake(c, w))
                return false;
            if (c.word.compare_exchange_weak(w, pack(nowUs, fp), std::memory_order_acq_rel)) {
                c.tag.store(tag, std::memory_order_release);
                return true;
            }
        }
    };
    const auto idle = [&](Cell &c, std::uint64_t w) {
        return c.tag.load(std::memory_order_relaxed) == 0 || timeOf(w) <= nowUs;
    };
    Cell *oldest = nullptr;
    std::uint64_t oldestTime = ~std::uint64_t{0};
    for (std::size_t k = 0; k < 4; ++k) {
        Cell &c = cells_[(hash + k) & (kCells - 1)];
        const std::uint64_t w = c.word.load(std::memory_order_acquire);
        if (claim(c, w, idle))
            return c;
        if (timeOf(w) < oldestTime) {
            oldest = &c;
            oldestTime = timeOf(w);
        }
    }
    claim(*oldest, oldest->word.load(std::memory_order_acquire),
          [](Cell &, std::uint64_t) { return true; });
    return *oldest;
}

ClientBudget::Verdict ClientBudget::check(const config::LimitsConfig &cfg, std::string_view client,
                                          std::string_view userAgent, std::int64_t nowUs) {
    Verdict v;
    if (inAnyBlock(cfg.allow, client))
        return v;
    // The class: the first whose pattern matches the User-Agent, in lower case.
    int cls = 0;
    double rate = cfg.rate;
    unsigned burst = cfg.burst;
    if (!cfg.classes.empty() && !userAgent.empty()) {
        char lower[512];
        const std::size_t n = std::min(userAgent.size(), sizeof lower);
        for (std::size_t i = 0; i < n; ++i)
            lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(userAgent[i])));
        const std::string_view ua(lower, n);
        for (std::size_t c = 0; c < cfg.classes.size() && cls == 0; ++c)
            for (const auto &p : cfg.classes[c].userAgents)
                if (cache::globMatch(p, ua)) {
                    cls = static_cast<int>(c) + 1;
                    rate = cfg.classes[c].rate;
                    burst = cfg.classes[c].burst;
                    break;
                }
    }
    if (rate <= 0)
        return v;
    v.cls = cls;
    // The key: the class, then the address's bytes (IPv6: its /64; IPv4-mapped: the IPv4
    // address), or its text.
    unsigned char key[1 + 16];
    std::size_t len = 1;
    key[0] = static_cast<unsigned char>(cls);
    char addr[64];
    const std::size_t alen = std::min(client.size(), sizeof addr - 1);
    std::memcpy(addr, client.data(), alen);
    addr[alen] = '\0';
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (inet_pton(AF_INET, addr, key + 1) == 1) {
        len += 4;
    } else if (inet_pton(AF_INET6, addr, key + 1) == 1) {
        if (std::memcmp(key + 1, kMapped, sizeof kMapped) == 0) {
            std::memmove(key + 1, key + 13, 4);
            len += 4;
        } else {
            len += 8;
        }
    }
    const std::uint64_t hash =
        len > 1 ? XXH3_64bits_withSeed(key, len, seed_)
                : XXH3_64bits_withSeed(client.data(), client.size(), seed_ ^ std::uint64_t(cls));
    const std::uint64_t now = static_cast<std::uint64_t>(std::max<std::int64_t>(nowUs, 0));
    const auto interval = static_cast<std::uint64_t>(std::llround(1e6 / rate));
    const std::uint64_t tolerance = interval * burst; // the loader bounds both (a year at most)
    if (now + tolerance + interval >= kTimeMax)
        return v; // past 8.9 years of uptime: fail open rather than misread the clock
    const std::uint16_t fp = fingerprint(hash);
    for (int attempt = 0; attempt < 4; ++attempt) {
        Cell &cell = cellFor(hash, now);
        std::uint64_t w = cell.word.load(std::memory_order_acquire);
        while ((w & 0xffff) == fp) {
            const std::uint64_t next = std::max(timeOf(w), now) + interval;
            if (next - now > tolerance) {
                v.over = true;
                v.retryAfterMs = static_cast<std::int64_t>((next - now - tolerance + 999) / 1000);
                return v;
            }
            if (cell.word.compare_exchange_weak(w, pack(next, fp), std::memory_order_acq_rel))
                return v;
        }
        // Taken over by another client between the lookup and the charge: look again.
    }
    return v; // a storm of takeovers: fail open
}

} // namespace fc::proxy
