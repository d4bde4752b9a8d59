#include "admin/connection.h"

#include "admin/admin_server.h"
#include "admin/router.h"
#include "http/rewrite.h"
#include "proxy/log.h"
#include "proxy/stream_write.h"

namespace fc::admin {

AdminConnection::AdminConnection(AdminServer &server)
    : server_(server), parser_(*this, http::RequestParser::Limits{16384, 8192, 1 << 20}) {}

bool AdminConnection::accept(uv_loop_t *loop, uv_stream_t *listener) {
    if (proxy::uvFailed(uv_tcp_init(loop, &handle_), "admin connection") < 0) {
        server_.forget(this); // never initialised: nothing to close (common/failure.h)
        delete this;
        return false;
    }
    handle_.data = this;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t *>(&handle_)) != 0) {
        close();
        return false;
    }
    int rc = uv_read_start(
        reinterpret_cast<uv_stream_t *>(&handle_),
        [](uv_handle_t *, size_t, uv_buf_t *b) {
            static thread_local char buf[16384];
            *b = uv_buf_init(buf, sizeof buf);
        },
        [](uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
            static_cast<AdminConnection *>(s->data)->onRead(n, b);
        });
    if (rc < 0) {
        close();
        return false;
    }
    return true;
}

void AdminConnection::close() {
    if (closing_)
        return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t *>(&handle_), [](uv_handle_t *h) {
        auto *c = static_cast<AdminConnection *>(h->data);
        c->server_.forget(c);
        delete c;
    });
}

void AdminConnection::onRead(ssize_t n, const uv_buf_t *b) {
    if (n < 0) {
        close();
        return;
    }
    if (answered_ || n == 0)
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
    int rc = proxy::streamWrite(reinterpret_cast<uv_stream_t *>(&handle_), out_, this,
                                [](uv_write_t *req, int) {
                                    auto *w = static_cast<proxy::WriteReq *>(req->data);
                                    auto *c = static_cast<AdminConnection *>(w->owner);
                                    delete w;
                                    c->shutdown();
                                });
    if (rc < 0)
        close();
    else if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t *>(&handle_)) == 0)
        shutdown();
}

void AdminConnection::shutdown() {
    if (closing_)
        return;
    shutdownReq_.data = this;
    if (uv_shutdown(
            &shutdownReq_, reinterpret_cast<uv_stream_t *>(&handle_),
            [](uv_shutdown_t *r, int) { static_cast<AdminConnection *>(r->data)->close(); }) != 0)
        close();
}

} // namespace fc::admin
