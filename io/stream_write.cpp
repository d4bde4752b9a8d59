#include "io/stream_write.h"

#include <cassert>

namespace fc::io {

int streamWrite(uv_stream_t *s, const std::string_view *parts, size_t count, void *owner,
                uv_write_cb cb) {
    // No part is pinned: whatever the socket does not take is copied into the request.
    return streamWriteHeld(s, parts, count, 0, BufferRef(), owner, cb);
}

int streamWriteHeld(uv_stream_t *s, const std::string_view *parts, size_t count, unsigned inPinned,
                    BufferRef pinned, void *owner, uv_write_cb cb) {
    assert(count <= 4);
    uv_buf_t bufs[4];
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
        bufs[i] = uv_buf_init(const_cast<char *>(parts[i].data()),
                              static_cast<unsigned>(parts[i].size()));
        total += parts[i].size();
    }
    size_t written = 0;
    int n = uv_try_write(s, bufs, static_cast<unsigned>(count));
    if (n > 0)
        written = static_cast<size_t>(n);
    else if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS)
        return n;
    if (written == total)
        return 0; // the common case: one writev, no allocation, `pinned` released here
    auto *w = new WriteReq{{}, {}, owner, std::move(pinned), {}};
    size_t copyBytes = 0;
    for (size_t i = 0; i < count; ++i)
        if (!(inPinned & (1u << i)))
            copyBytes += parts[i].size();
    w->data.reserve(copyBytes); // no reallocation below: the bufs may point into it
    unsigned nb = 0;
    for (size_t i = 0; i < count; ++i) {
        std::string_view p = parts[i];
        if (written >= p.size()) {
            written -= p.size();
            continue;
        }
        p.remove_prefix(written);
        written = 0;
        if (inPinned & (1u << i)) {
            w->bufs[nb++] =
                uv_buf_init(const_cast<char *>(p.data()), static_cast<unsigned>(p.size()));
        } else {
            size_t at = w->data.size();
            w->data.append(p);
            w->bufs[nb++] = uv_buf_init(w->data.data() + at, static_cast<unsigned>(p.size()));
        }
    }
    w->req.data = w;
    int rc = uv_write(&w->req, s, w->bufs, nb, cb);
    if (rc < 0)
        delete w;
    return rc;
}

} // namespace fc::io
