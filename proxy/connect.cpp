#include "proxy/connect.h"

namespace fc::proxy {

int initHandle(uv_loop_t *loop, const UpstreamTarget &t, UpstreamHandle &h) {
    if (t.kind == config::UpstreamConfig::Kind::Unix)
        return uv_pipe_init(loop, &h.pipe, 0);
    return uv_tcp_init(loop, &h.tcp);
}

int startConnect(const UpstreamTarget &t, UpstreamHandle &h, uv_connect_t *req, uv_connect_cb cb) {
    if (t.kind == config::UpstreamConfig::Kind::Unix) {
        uv_pipe_connect(req, &h.pipe, t.path.c_str(), cb); // reports failures through `cb`
        return 0;
    }
    uv_tcp_nodelay(&h.tcp, 1); // best effort: a failure only costs latency
    return uv_tcp_connect(req, &h.tcp, reinterpret_cast<const sockaddr *>(&t.addr), cb);
}

} // namespace fc::proxy
