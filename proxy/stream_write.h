// Writing to a libuv stream without paying for what is not needed: when nothing is queued, the
// bytes go straight to the socket with uv_try_write (no allocation, no write request, no
// callback — and no epoll_ctl that libuv issues when a queued write drains). Only what the
// socket does not take is copied into a heap request that owns it until its callback.
//
// Threading: the stream's loop thread only.
#pragma once

#include <uv.h>

#include <string>
#include <string_view>

#include "cache/store/item.h"

namespace fc::proxy {

struct WriteReq {
    uv_write_t req;
    std::string data;
    void *owner;
    cache::ItemRef hold; // keeps a stored page alive while its bytes are being sent
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

// The cache-hit variant: parts whose bit is set in `inItem` point into `item`'s memory. What the
// socket does not take at once is sent from there (the request keeps a reference to the item
// until its callback), so a hit never copies the page; only the other parts are copied. When
// everything is written at once, `item` is released on return.
int streamWriteHeld(uv_stream_t *s, const std::string_view *parts, size_t count, unsigned inItem,
                    cache::ItemRef item, void *owner, uv_write_cb cb);

} // namespace fc::proxy
