#include "proxy/limits.h"

#include <arpa/inet.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
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

// The client's cell: its own (same tag), else an empty or idle one taken over, else the one idle
// longest of the four probed.
ClientBudget::Cell &ClientBudget::cellFor(std::uint64_t hash, std::int64_t nowUs) {
    const std::uint64_t tag = hash | 1; // 0 marks an empty cell
    Cell *oldest = nullptr;
    for (std::size_t k = 0; k < 4; ++k) {
        Cell &c = cells_[(hash + k) & (kCells - 1)];
        std::uint64_t t = c.tag.load(std::memory_order_acquire);
        if (t == tag)
            return c;
        const std::int64_t tat = c.tat.load(std::memory_order_relaxed);
        if ((t == 0 || tat <= nowUs) && c.tag.compare_exchange_strong(t, tag)) {
            c.tat.store(nowUs, std::memory_order_relaxed); // a full bucket
            return c;
        }
        if (!oldest || tat < oldest->tat.load(std::memory_order_relaxed))
            oldest = &c;
    }
    oldest->tag.store(tag, std::memory_order_release);
    oldest->tat.store(nowUs, std::memory_order_relaxed);
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
        char lower[256];
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
    // The key: the class, then the address's bytes (IPv6: its /64), or its text.
    unsigned char key[1 + 16];
    std::size_t len = 1;
    key[0] = static_cast<unsigned char>(cls);
    const std::string addr(client);
    if (inet_pton(AF_INET, addr.c_str(), key + 1) == 1)
        len += 4;
    else if (inet_pton(AF_INET6, addr.c_str(), key + 1) == 1)
        len += 8;
    std::uint64_t hash = len > 1 ? XXH3_64bits_withSeed(key, len, seed_)
                                 : XXH3_64bits_withSeed(client.data(), client.size(), seed_ ^ cls);
    Cell &cell = cellFor(hash, nowUs);
    const auto interval = static_cast<std::int64_t>(1e6 / rate);
    const std::int64_t tolerance = interval * static_cast<std::int64_t>(burst);
    std::int64_t tat = cell.tat.load(std::memory_order_relaxed);
    for (;;) {
        const std::int64_t next = std::max(tat, nowUs) + interval;
        if (next - nowUs > tolerance) {
            v.over = true;
            v.retryAfterMs = (next - nowUs - tolerance + 999) / 1000;
            return v;
        }
        if (cell.tat.compare_exchange_weak(tat, next, std::memory_order_relaxed))
            return v;
    }
}

} // namespace fc::proxy
