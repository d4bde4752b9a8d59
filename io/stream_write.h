// Writing to a libuv stream without paying for what is not needed: when nothing is queued, the
// bytes go straight to the socket with uv_try_write (no allocation, no write request, no
// callback — and no epoll_ctl that libuv issues when a queued write drains). Only what the
// socket does not take is copied into a heap request that owns it until its callback; parts
// that point into memory someone else owns (a stored page) are not copied but referenced, and
// that memory is kept alive by a BufferRef until the callback.
//
// Threading: the stream's loop thread only (a BufferRef may be released on it).
#pragma once

#include <uv.h>

#include <string>
#include <string_view>
#include <utility>

namespace fc::io {

// A counted reference to memory that some parts of a write point into (for the HTTP data path,
// a stored page: proxy/client.cpp makes one from a cache::ItemRef). io/ does not know what it
// refers to: it only keeps it until the bytes are sent and then calls `release`. Move-only; no
// allocation.
class BufferRef {
public:
    using Release = void (*)(void *) noexcept;

    BufferRef() = default;
    // Adopts one reference to `ref`; `release(ref)` gives it back.
    BufferRef(void *ref, Release release) noexcept : ref_(ref), release_(release) {}
    BufferRef(BufferRef &&o) noexcept
        : ref_(std::exchange(o.ref_, nullptr)), release_(o.release_) {}
    BufferRef &operator=(BufferRef &&o) noexcept {
        if (this != &o) {
            reset();
            ref_ = std::exchange(o.ref_, nullptr);
            release_ = o.release_;
        }
        return *this;
    }
    BufferRef(const BufferRef &) = delete;
    BufferRef &operator=(const BufferRef &) = delete;
    ~BufferRef() { reset(); }

    void reset() noexcept {
        if (ref_)
            release_(std::exchange(ref_, nullptr));
    }
    explicit operator bool() const { return ref_ != nullptr; }

private:
    void *ref_ = nullptr;
    Release release_ = nullptr;
};

// A queued remainder: what the socket did not take at once.
struct WriteReq {
    uv_write_t req;
    std::string data; // the copied parts
    void *owner;
    BufferRef pinned; // the memory the other parts point into, until the callback
    uv_buf_t bufs[4];
};

// Writes the concatenation of `parts` (up to 4) to `s`. `cb` runs only for a queued remainder; it
// must `delete static_cast<WriteReq *>(req->data)` and find its owner in WriteReq::owner.
// Returns 0 or a negative libuv error (the stream is then unusable).
int streamWrite(uv_stream_t *s, const std::string_view *parts, size_t count, void *owner,
                uv_write_cb cb);

inline int streamWrite(uv_stream_t *s, std::string_view data, void *owner, uv_write_cb cb) {
    return streamWrite(s, &data, 1, owner, cb);
}

// The cache-hit variant: parts whose bit is set in `inPinned` point into the memory `pinned`
// keeps alive. What the socket does not take at once is sent from there (the request keeps
// `pinned` until its callback), so a hit never copies the page; only the other parts are
// copied. When everything is written at once, `pinned` is released on return.
int streamWriteHeld(uv_stream_t *s, const std::string_view *parts, size_t count, unsigned inPinned,
                    BufferRef pinned, void *owner, uv_write_cb cb);

} // namespace fc::io
