// [limits]: a budget per real client for what reaches the application — the misses and bypasses
// no cache can hold (crawlers walking parameter combinations, search pages, 404s). Hits never
// count: the exchange asks only on its way to the upstream.
//
// The budget is GCRA (the generic cell rate algorithm, a token bucket kept as one number): each
// client's cell holds its "theoretical arrival time"; a request is allowed when that time, moved
// on by one emission interval (1/rate), is no further ahead of now than `burst` intervals. One
// 64-bit word per client, updated with compare-and-swap: the budget holds exactly across every
// worker with no lock, and a client's cell is touched only by that client's requests.
//
// Cells: a fixed table (kCells, 1 MiB) indexed by a keyed hash of class and client (XXH3 with a
// seed drawn at start-up, so nobody can aim at another client's cell). A cell holds the client's
// 64-bit tag and one word: its arrival time (µs, 48 bits) with 16 bits of the tag, so the
// compare-and-swap that spends the budget also proves the cell is still this client's — a cell
// taken over meanwhile is never charged to, or read for, the wrong client. Four cells are
// probed: the client's own first, then an empty or idle one (its bucket full again) is taken
// over, and when none is idle the one idle longest is: a flood of addresses can only make the
// limiter forget (fail open), never limit a stranger. IPv6 clients are counted by /64, the block
// one subscriber gets; IPv4-mapped addresses as IPv4.
//
// Threading: check() from any worker, concurrently. Ownership: owns its table.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "config/config.h"

namespace fc::proxy {

class ClientBudget {
public:
    static constexpr std::size_t kCells = 1u << 16;
    ClientBudget();

    struct Verdict {
        bool over = false; // over its budget
        int cls = -1;      // -1 unlimited (allowed, or a class with rate 0); 0 the default,
                           // 1.. limits.classes[cls - 1]
        std::int64_t retryAfterMs = 0; // over: when the next request would be allowed
    };
    // One request of `client` (an address as text) with `userAgent` going upstream at `nowUs`
    // (a monotonic clock). Precondition: cfg.enabled().
    Verdict check(const config::LimitsConfig &cfg, std::string_view client,
                  std::string_view userAgent, std::int64_t nowUs);
    // The class `check` returned, by name ("default" for 0).
    static std::string_view className(const config::LimitsConfig &cfg, int cls);

private:
    struct alignas(16) Cell {
        std::atomic<std::uint64_t> tag{0};
        std::atomic<std::uint64_t> word{0}; // (arrival time in µs) << 16 | 16 bits of the tag
    };
    Cell &cellFor(std::uint64_t hash, std::uint64_t nowUs);

    std::unique_ptr<Cell[]> cells_;
    std::uint64_t seed_;
};

} // namespace fc::proxy
