// The admin port's listener ([admin] listen): accepts connections (admin/connection.h), each
// answered by admin/router.h, and owns GET /top's sampling (admin/top_sampler.h).
//
// One request per connection (answered with Connection: close): scrapers and curl need no more.
// It runs on the main thread's loop, never on a worker's, so it cannot slow the I/O path.
//
// Threading: the main loop's thread. Ownership: the AdminServer owns its listening handle and
// its sampler's timer (both closed by close()); each connection owns its TCP handle and deletes
// itself in its close callback — the server only keeps a set of them, to close at shutdown.
// The context belongs to the caller and outlives the server.
#pragma once

#include <uv.h>

#include <cstdint>
#include <set>
#include <string>

#include "admin/context.h"
#include "admin/top_sampler.h"
#include "config/config.h"
#include "io/listener.h"

namespace fc::admin {

class AdminConnection;

class AdminServer {
public:
    AdminServer(uv_loop_t *loop, AdminContext &ctx)
        : loop_(loop), ctx_(ctx), top_(loop, ctx.samplers) {}
    AdminServer(const AdminServer &) = delete;
    AdminServer &operator=(const AdminServer &) = delete;

    // Binds and listens; returns false with `error` set. `boundPort` receives the real port
    // (and ctx.selfAddress the address as bound).
    bool listen(const config::SocketAddress &addr, std::string &error, std::uint16_t &boundPort);
    // Closes the listener, the sampler's timer and every connection (the loop then finishes
    // their close callbacks).
    void close();

    AdminContext &context() { return ctx_; }
    uv_loop_t *loop() const { return loop_; }
    // A connection's close callback: it is gone.
    void forget(AdminConnection *c);
    // GET /top (admin/top_sampler.h).
    std::string topText() { return top_.text(); }

private:
    static void onConnection(uv_stream_t *s, int status) noexcept;

    uv_loop_t *loop_;
    AdminContext &ctx_;
    io::Listener listener_;
    std::set<AdminConnection *> conns_;
    TopSampler top_;
};

} // namespace fc::admin
