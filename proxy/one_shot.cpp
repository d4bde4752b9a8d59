#include "proxy/one_shot.h"

#include "common/log.h"
#include "io/uv_error.h"
#include "proxy/connect.h"

namespace fc::proxy {

class OneShot {
public:
    OneShotDone done; // empty once reported or cancelled
    UpstreamHandle h;
    uv_timer_t timeout;
    uv_connect_t connectReq;
    uv_write_t writeReq;
    std::string request;
    std::string why; // a failure found before the exchange could start
    char buf[256];
    std::size_t got = 0;
    int openHandles = 2;
    bool finished = false;

    uv_stream_t *stream() { return h.stream(); }
    void finish(int status, const std::string &why);
    void onConnect(int status);
    void onRead(ssize_t n);
};

namespace {

// "HTTP/1.1 200 OK": the status code, or 0 (with `why`) when the line is not a status line.
int statusOf(std::string_view line, std::string &why) {
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
        line.substr(9, 3).find_first_not_of("0123456789") != std::string_view::npos) {
        why = "not an HTTP response";
        return 0;
    }
    return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

void closeOne(uv_handle_t *h) noexcept {
    auto *s = static_cast<OneShot *>(h->data);
    if (--s->openHandles == 0)
        delete s;
}

} // namespace

void OneShot::finish(int status, const std::string &why) {
    if (finished)
        return;
    finished = true;
    uv_timer_stop(&timeout);
    uv_close(h.handle(), &closeOne);
    uv_close(reinterpret_cast<uv_handle_t *>(&timeout), &closeOne);
    if (done) {
        OneShotDone cb = std::move(done);
        done = nullptr;
        cb(status, why);
    }
}

void OneShot::onRead(ssize_t n) {
    if (finished || n == 0)
        return;
    if (n > 0)
        got += static_cast<std::size_t>(n);
    std::string_view text(buf, got);
    auto eol = text.find("\r\n");
    if (eol != std::string_view::npos || got == sizeof buf) {
        std::string why;
        int status = statusOf(text.substr(0, eol), why);
        finish(status, why);
        return;
    }
    if (n < 0)
        finish(0, n == UV_EOF ? "closed before a status line" : std::string(uv_strerror(int(n))));
}

void OneShot::onConnect(int status) {
    if (finished)
        return;
    if (status < 0)
        return finish(0, std::string("connect: ") + uv_strerror(status));
    if (request.empty())
        return finish(kOneShotConnected, "connected");
    uv_buf_t b = uv_buf_init(request.data(), static_cast<unsigned>(request.size()));
    writeReq.data = this;
    int rc = uv_write(&writeReq, stream(), &b, 1, [](uv_write_t *w, int st) noexcept {
        auto *s = static_cast<OneShot *>(w->data);
        if (st < 0)
            s->finish(0, std::string("send: ") + uv_strerror(st));
    });
    if (rc < 0)
        return finish(0, std::string("send: ") + uv_strerror(rc));
    rc = uv_read_start(
        stream(),
        [](uv_handle_t *hd, std::size_t, uv_buf_t *b) noexcept {
            auto *s = static_cast<OneShot *>(hd->data);
            *b = uv_buf_init(s->buf + s->got, static_cast<unsigned>(sizeof s->buf - s->got));
        },
        [](uv_stream_t *st, ssize_t n, const uv_buf_t *) noexcept {
            static_cast<OneShot *>(st->data)->onRead(n);
        });
    if (rc < 0)
        finish(0, std::string("read: ") + uv_strerror(rc));
}

OneShot *startOneShot(uv_loop_t *loop, const UpstreamTarget &target, std::string request,
                      std::uint64_t timeoutMs, OneShotDone done) {
    auto *s = new OneShot;
    s->done = std::move(done);
    s->request = std::move(request);
    uv_timer_init(loop, &s->timeout); // cannot fail
    s->timeout.data = s;
    if (int rc = initHandle(loop, target, s->h); rc < 0) {
        // Not initialised: only the timer is closed; the outcome is reported from its callback,
        // so `done` never runs inside this call.
        io::uvFailed(rc, "one-shot request");
        s->finished = true;
        s->openHandles = 1;
        s->why = std::string("socket: ") + uv_strerror(rc);
        uv_close(reinterpret_cast<uv_handle_t *>(&s->timeout), [](uv_handle_t *h) noexcept {
            auto *shot = static_cast<OneShot *>(h->data);
            if (shot->done)
                shot->done(0, shot->why);
            delete shot;
        });
        return s;
    }
    s->h.tcp.data = s;
    s->connectReq.data = s;
    uv_timer_start(
        &s->timeout,
        [](uv_timer_t *tm) noexcept {
            static_cast<OneShot *>(tm->data)->finish(0, "no answer in time");
        },
        timeoutMs, 0);
    if (int rc = startConnect(target, s->h, &s->connectReq,
                              [](uv_connect_t *req, int st) noexcept {
                                  static_cast<OneShot *>(req->data)->onConnect(st);
                              });
        rc < 0) {
        // Reported on the next loop turn, not inside this call.
        s->why = std::string("connect: ") + uv_strerror(rc);
        uv_timer_start(
            &s->timeout,
            [](uv_timer_t *tm) noexcept {
                auto *shot = static_cast<OneShot *>(tm->data);
                shot->finish(0, shot->why);
            },
            0, 0);
    }
    return s;
}

void cancelOneShot(OneShot *shot) {
    shot->done = nullptr;
    if (!shot->finished)
        shot->finish(0, "");
}

} // namespace fc::proxy
