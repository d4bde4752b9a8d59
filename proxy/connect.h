// Connecting to an upstream server, TCP or Unix socket, in one place: the upstream pool's
// connections (proxy/upstream.h) and the active health checks (proxy/health_check.h) both open
// theirs through these two calls.
//
// Ownership: the caller owns the handle and the connect request, and must uv_close() the handle
// once initHandle() succeeded (also when startConnect() fails).
// Threading: the loop's thread.
#pragma once

#include <uv.h>

#include "proxy/balancer.h"

namespace fc::proxy {

// A stream to an upstream server: which member is live depends on the target's kind.
union UpstreamHandle {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_stream_t *stream() { return reinterpret_cast<uv_stream_t *>(&tcp); }
    uv_handle_t *handle() { return reinterpret_cast<uv_handle_t *>(&tcp); }
};

// Initialises `h` for `t`'s kind. Returns 0 or a negative libuv error (then `h` is not
// initialised and must not be closed).
int initHandle(uv_loop_t *loop, const UpstreamTarget &t, UpstreamHandle &h);

// Starts connecting `h` to `t` (TCP_NODELAY on TCP). Returns 0 — `cb` then reports the outcome —
// or a negative libuv error when the connect could not even start (`cb` is not called).
int startConnect(const UpstreamTarget &t, UpstreamHandle &h, uv_connect_t *req, uv_connect_cb cb);

} // namespace fc::proxy
