// One connection to the admin port: reads one request (http::RequestParser, small limits),
// answers it with admin/router.h's reply framed by http::cannedResponse (Connection: close),
// then shuts the write side down and closes.
//
// The libuv plumbing (accept, reads, the write, the shutdown, closing) is io::Connection's,
// shared with the data path's connections.
//
// Threading: the main loop's thread. Ownership: owns its io::Connection and deletes itself once
// that has closed its handle, after telling its AdminServer (forget()).
#pragma once

#include <uv.h>

#include <string>

#include "http/parser.h"
#include "io/connection.h"

namespace fc::admin {

class AdminServer;

class AdminConnection final : private http::RequestParser::Sink, private io::Connection::Owner {
public:
    explicit AdminConnection(AdminServer &server);

    // Accepts from `listener` and starts reading. False when the connection could not be set
    // up: it has then closed (or deleted) itself.
    bool accept(uv_loop_t *loop, uv_stream_t *listener);
    // Closes the handle; the object is deleted in its close callback. Idempotent.
    void close();

private:
    // io::Connection::Owner
    void onRead(ssize_t n, const uv_buf_t *b) override;
    void onWritten(int) override { shutdown(); }
    void onShutdown(int) override { close(); }
    void onClosed() override;

    bool onRequestHead(http::RequestHead &) override { return true; }
    void onRequestBody(std::string_view piece) override { body_.append(piece); }
    void onRequestComplete() override;
    void respond(int status, const char *type, const std::string &body);
    void shutdown();

    AdminServer &server_;
    http::RequestParser parser_;
    io::Connection conn_{*this};
    std::string body_, out_;
    bool answered_ = false;
};

} // namespace fc::admin
