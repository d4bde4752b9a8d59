// One connection to the admin port: reads one request (http::RequestParser, small limits),
// answers it with admin/router.h's reply framed by http::cannedResponse (Connection: close),
// then shuts the write side down and closes.
//
// This is the third copy of the libuv connection plumbing (accept, read, write, close) after
// proxy/client.cpp and proxy/memcache_conn.cpp; it belongs in the io/ library the three will
// share (#22), and moves there with them.
//
// Threading: the main loop's thread. Ownership: owns its TCP handle and deletes itself in the
// handle's close callback, after telling its AdminServer (forget()).
#pragma once

#include <uv.h>

#include <string>

#include "http/parser.h"

namespace fc::admin {

class AdminServer;

class AdminConnection final : private http::RequestParser::Sink {
public:
    explicit AdminConnection(AdminServer &server);

    // Accepts from `listener` and starts reading. False when the connection could not be set
    // up: it has then closed (or deleted) itself.
    bool accept(uv_loop_t *loop, uv_stream_t *listener);
    // Closes the handle; the object is deleted in its close callback. Idempotent.
    void close();

private:
    void onRead(ssize_t n, const uv_buf_t *b);
    bool onRequestHead(http::RequestHead &) override { return true; }
    void onRequestBody(std::string_view piece) override { body_.append(piece); }
    void onRequestComplete() override;
    void respond(int status, const char *type, const std::string &body);
    void shutdown();

    AdminServer &server_;
    http::RequestParser parser_;
    uv_tcp_t handle_;
    uv_shutdown_t shutdownReq_;
    std::string body_, out_;
    bool answered_ = false;
    bool closing_ = false;
};

} // namespace fc::admin
