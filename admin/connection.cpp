#include "admin/connection.h"

#include "admin/admin_server.h"
#include "admin/router.h"
#include "common/log.h"
#include "http/rewrite.h"
#include "io/uv_error.h"

namespace fc::admin {

AdminConnection::AdminConnection(AdminServer &server)
    : server_(server), parser_(*this, http::RequestParser::Limits{16384, 8192, 1 << 20}) {}

bool AdminConnection::accept(uv_loop_t *loop, uv_stream_t *listener) {
    if (io::uvFailed(conn_.open(loop, io::Connection::Timer::No), "admin connection") < 0) {
        server_.forget(this); // never initialised: nothing to close (common/failure.h)
        delete this;
        return false;
    }
    static thread_local char buf[16384]; // the main loop's connections read one at a time
    conn_.setReadBuffer(buf, sizeof buf);
    // No TCP_NODELAY: one answer, then the shutdown.
    if (conn_.accept(listener, io::Connection::NoDelay::No) != 0 || conn_.startReading() < 0) {
        close();
        return false;
    }
    return true;
}

void AdminConnection::close() {
    conn_.close();
}

void AdminConnection::onClosed() {
    server_.forget(this);
    delete this;
}

// Never called with n == 0 or once closing (io::Connection filters them).
void AdminConnection::onRead(ssize_t n, const uv_buf_t *b) {
    if (n < 0) {
        close();
        return;
    }
    if (answered_)
        return;
    auto r = parser_.feed(b->base, static_cast<std::size_t>(n));
    if (r.status == http::ParseStatus::Error && !answered_)
        respond(parser_.errorStatus() ? parser_.errorStatus() : 400, "text/plain",
                std::string(parser_.errorReason() ? parser_.errorReason() : "bad request") + "\n");
}

void AdminConnection::onRequestComplete() {
    Reply r = route(server_, parser_.head(), body_);
    respond(r.status, r.type, r.body);
}

void AdminConnection::respond(int status, const char *type, const std::string &body) {
    answered_ = true;
    out_ = http::cannedResponse(status, type, body, true);
    if (conn_.write(out_) < 0)
        close();
    else if (conn_.writeQueueSize() == 0)
        shutdown(); // else once the queued rest is written (onWritten)
}

void AdminConnection::shutdown() {
    if (!conn_.closing() && conn_.shutdown() != 0)
        close();
}

} // namespace fc::admin
