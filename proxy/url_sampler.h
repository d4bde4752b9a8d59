// Which pages are asked for, for `frontcache top` (the admin port's GET /top): each worker
// writes one in kStride of its looked-up requests (the page's URI, hit or miss) into a ring of
// its own; the admin loop drains every ring once a second and keeps the last second's top lists.
// Only while someone looks (a GET /top in the last 10 s): otherwise the request path pays one
// relaxed load and a branch, and copies nothing.
//
// Threading: one producer (the worker's loop) and one consumer (the admin loop) per ring; no
// lock. Memory: fixed (kSlots slots of kUriMax bytes). A full ring drops samples (counted).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace fc::proxy {

class UrlSampler {
public:
    static constexpr std::size_t kSlots = 1024;
    static constexpr std::size_t kUriMax = 118;
    static constexpr std::uint64_t kStride = 4; // one request in four

    enum class Kind : std::uint8_t { Miss, Hit, Limited };
    // Worker thread.
    void record(std::string_view uri, bool hit) {
        if (!active.load(std::memory_order_relaxed) || ++seen_ % kStride != 0)
            return;
        put(uri, hit ? Kind::Hit : Kind::Miss);
    }
    // A client over its [limits] budget ("ADDRESS CLASS"): every one, not one in kStride.
    void recordLimited(std::string_view clientAndClass) {
        if (active.load(std::memory_order_relaxed))
            put(clientAndClass, Kind::Limited);
    }

    // Admin thread: f(text, kind) for every sample since the last drain.
    template <typename F> void drain(F &&f) {
        const std::uint64_t t = tail_.load(std::memory_order_relaxed);
        const std::uint64_t h = head_.load(std::memory_order_acquire);
        for (std::uint64_t i = t; i < h; ++i) {
            const Slot &s = slots_[i % kSlots];
            f(std::string_view(s.uri, s.len), s.kind);
        }
        tail_.store(h, std::memory_order_release);
    }

    std::atomic<bool> active{false}; // set by the admin loop while GET /top is being asked
    std::atomic<std::uint64_t> dropped{0};

private:
    void put(std::string_view uri, Kind kind) {
        const std::uint64_t h = head_.load(std::memory_order_relaxed);
        if (h - tail_.load(std::memory_order_acquire) >= kSlots) {
            dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        Slot &s = slots_[h % kSlots];
        s.kind = kind;
        s.len = static_cast<std::uint8_t>(uri.size() < kUriMax ? uri.size() : kUriMax);
        std::memcpy(s.uri, uri.data(), s.len);
        head_.store(h + 1, std::memory_order_release);
    }

    struct Slot {
        Kind kind;
        std::uint8_t len;
        char uri[kUriMax];
    };
    Slot slots_[kSlots];
    std::uint64_t seen_ = 0; // worker thread only
    std::atomic<std::uint64_t> head_{0}, tail_{0};
};

} // namespace fc::proxy
