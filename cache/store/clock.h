// Time for the store, injected so tests never sleep: expiry, TTLs and Age are computed from
// Clock::now(). Implementations must be safe to call from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace fc::cache {

class Clock {
public:
    virtual ~Clock() = default;
    // Seconds since the Unix epoch.
    virtual std::int64_t now() const = 0;
};

class SystemClock final : public Clock {
public:
    std::int64_t now() const override { return static_cast<std::int64_t>(::time(nullptr)); }
};

// A clock tests move by hand.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start = 1'700'000'000) : t_(start) {}
    std::int64_t now() const override { return t_.load(std::memory_order_relaxed); }
    void advance(std::int64_t seconds) { t_.fetch_add(seconds, std::memory_order_relaxed); }
    void set(std::int64_t t) { t_.store(t, std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> t_;
};

} // namespace fc::cache
