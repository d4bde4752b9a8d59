// Listening sockets, for every port. The data path's ports (server.listen, memcached.listen) are
// bound once per worker by the main thread with SO_REUSEPORT (bindReusePort), so the kernel
// spreads new connections over the workers, each listening on its own descriptor in its own
// loop (Listener::listen(fd, ...)); the admin port binds its one address on the main loop
// (Listener::listen(address, ...)). Accepting is the connection's (io/connection.h).
//
// Threading: bindReusePort and boundPort on any thread (start-up); a Listener on its loop's
// thread. Ownership: a Listener owns its handle and, once listening, the descriptor.
#pragma once

#include <uv.h>

#include <cstdint>

#include "config/config.h"

namespace fc::io {

// A bound socket, not yet listening: non-blocking, close-on-exec, SO_REUSEADDR and SO_REUSEPORT
// (IPV6_V6ONLY for an IPv6 address). `port` 0 picks one (boundPort says which). Returns the
// descriptor or -errno.
int bindReusePort(const config::SocketAddress &a, std::uint16_t port);
// The port `fd` is bound to.
std::uint16_t boundPort(int fd);

class Listener {
public:
    Listener() = default;
    Listener(const Listener &) = delete;
    Listener &operator=(const Listener &) = delete;

    // Initialises the handle on `loop`; the connection callback finds `data` in its stream's
    // `data`. Returns 0 or a libuv error (then there is nothing to close).
    int init(uv_loop_t *loop, void *data);
    // Listens on `fd`, a socket from bindReusePort, which the handle owns from here.
    int listen(int fd, int backlog, uv_connection_cb cb);
    // Binds `addr` (no SO_REUSEPORT: one listener) and listens.
    int listen(const config::SocketAddress &addr, int backlog, uv_connection_cb cb);
    // The port as bound (after a listen that succeeded).
    std::uint16_t port() const;
    // Closes the handle, without a callback: the Listener must outlive the loop's next turn.
    // Idempotent.
    void close();

private:
    uv_tcp_t tcp_;
    bool open_ = false;
};

} // namespace fc::io
