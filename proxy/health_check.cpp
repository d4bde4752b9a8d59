#include "proxy/health_check.h"

#include <cstring>

#include "proxy/connect.h"
#include "proxy/log.h"

namespace fc::proxy {

namespace {

// One check in flight: connect, send the request, read the status line.
struct Check {
    HealthChecker::Probe *probe; // null once the checker closed (nothing is reported then)
    UpstreamHandle h;
    uv_timer_t timeout;
    uv_connect_t connectReq;
    uv_write_t writeReq;
    std::string request;
    char buf[256];
    std::size_t got = 0;
    int openHandles = 2;
    bool done = false;

    uv_stream_t *stream() { return h.stream(); }
};

void finish(Check *c, bool ok, const std::string &why);

// "HTTP/1.1 200 OK\r\n": true for a 2xx or 3xx status; `why` says what was wrong otherwise.
bool statusPasses(std::string_view line, std::string &why) {
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
        line.substr(9, 3).find_first_not_of("0123456789") != std::string_view::npos) {
        why = "not an HTTP response";
        return false;
    }
    int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status >= 200 && status < 400)
        return true;
    why = "status " + std::string(line.substr(9, 3));
    return false;
}

void onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *) noexcept {
    auto *c = static_cast<Check *>(s->data);
    if (c->done || n == 0)
        return;
    if (n > 0)
        c->got += static_cast<std::size_t>(n);
    std::string_view text(c->buf, c->got);
    auto eol = text.find("\r\n");
    if (eol != std::string_view::npos || c->got == sizeof c->buf) {
        std::string why;
        bool ok = statusPasses(text.substr(0, eol), why);
        finish(c, ok, why);
        return;
    }
    if (n < 0)
        finish(c, false,
               n == UV_EOF ? "closed before a status line" : std::string(uv_strerror(int(n))));
}

void onConnect(uv_connect_t *req, int status) noexcept {
    auto *c = static_cast<Check *>(req->data);
    if (c->done)
        return;
    if (status < 0) {
        finish(c, false, std::string("connect: ") + uv_strerror(status));
        return;
    }
    uv_buf_t b = uv_buf_init(c->request.data(), static_cast<unsigned>(c->request.size()));
    c->writeReq.data = c;
    int rc = uv_write(&c->writeReq, c->stream(), &b, 1, [](uv_write_t *w, int st) noexcept {
        auto *ck = static_cast<Check *>(w->data);
        if (st < 0 && !ck->done)
            finish(ck, false, std::string("send: ") + uv_strerror(st));
    });
    if (rc < 0) {
        finish(c, false, std::string("send: ") + uv_strerror(rc));
        return;
    }
    rc = uv_read_start(
        c->stream(),
        [](uv_handle_t *h, std::size_t, uv_buf_t *b) noexcept {
            auto *ck = static_cast<Check *>(h->data);
            *b = uv_buf_init(ck->buf + ck->got, static_cast<unsigned>(sizeof ck->buf - ck->got));
        },
        &onRead);
    if (rc < 0)
        finish(c, false, std::string("read: ") + uv_strerror(rc));
}

} // namespace

struct HealthChecker::Probe {
    HealthChecker *owner;
    std::size_t server;
    uv_timer_t interval;
    Check *inFlight = nullptr;

    void run();
};

namespace {

void finish(Check *c, bool ok, const std::string &why) {
    c->done = true;
    if (HealthChecker::Probe *p = c->probe) {
        p->inFlight = nullptr;
        p->owner->report(p->server, ok, why);
    }
    uv_timer_stop(&c->timeout);
    auto onClose = [](uv_handle_t *h) noexcept {
        auto *ck = static_cast<Check *>(h->data);
        if (--ck->openHandles == 0)
            delete ck;
    };
    uv_close(c->h.handle(), onClose);
    uv_close(reinterpret_cast<uv_handle_t *>(&c->timeout), onClose);
}

} // namespace

void HealthChecker::Probe::run() {
    if (inFlight)
        return; // the previous check has not ended yet (it has its own timeout)
    const UpstreamTarget &t = owner->balancer_.target(server);
    auto *c = new Check;
    c->probe = this;
    const std::string &host =
        owner->cfg_.healthCheckHost.empty() ? t.hostField : owner->cfg_.healthCheckHost;
    c->request = "GET " + owner->cfg_.healthCheck + " HTTP/1.1\r\nHost: " + host +
                 "\r\nUser-Agent: frontcache-health-check\r\nConnection: close\r\n\r\n";
    uv_loop_t *loop = owner->loop_;
    uv_timer_init(loop, &c->timeout); // cannot fail
    c->timeout.data = c;
    if (int rc = initHandle(loop, t, c->h); rc < 0) {
        // Not initialised: only the timer is closed (finish() would close both).
        uvFailed(rc, "health check");
        c->openHandles = 1;
        c->probe = nullptr;
        uv_close(reinterpret_cast<uv_handle_t *>(&c->timeout),
                 [](uv_handle_t *h) noexcept { delete static_cast<Check *>(h->data); });
        owner->report(server, false, std::string("socket: ") + uv_strerror(rc));
        return;
    }
    c->h.tcp.data = c;
    c->connectReq.data = c;
    inFlight = c;
    uv_timer_start(
        &c->timeout,
        [](uv_timer_t *tm) noexcept {
            finish(static_cast<Check *>(tm->data), false, "no answer within health_timeout");
        },
        static_cast<std::uint64_t>(owner->cfg_.healthTimeout.count()), 0);
    if (int rc = startConnect(t, c->h, &c->connectReq, &onConnect); rc < 0)
        finish(c, false, std::string("connect: ") + uv_strerror(rc));
}

HealthChecker::HealthChecker(uv_loop_t *loop, Balancer &balancer, const config::UpstreamConfig &cfg)
    : loop_(loop), balancer_(balancer), cfg_(cfg) {}

HealthChecker::~HealthChecker() {
    close();
}

void HealthChecker::start() {
    if (cfg_.healthCheck.empty() || !probes_.empty())
        return;
    for (std::size_t i = 0; i < balancer_.size(); ++i) {
        auto *p = new Probe{this, i, {}, nullptr};
        uv_timer_init(loop_, &p->interval);
        p->interval.data = p;
        uv_timer_start(
            &p->interval, [](uv_timer_t *t) noexcept { static_cast<Probe *>(t->data)->run(); }, 0,
            static_cast<std::uint64_t>(cfg_.healthInterval.count()));
        probes_.push_back(p);
    }
}

void HealthChecker::report(std::size_t server, bool ok, const std::string &why) {
    FC_DEBUG("health check of %s: %s%s%s", balancer_.target(server).display.c_str(),
             ok ? "ok" : "failed", ok ? "" : ": ", why.c_str());
    balancer_.checked(server, ok, why);
}

void HealthChecker::close() {
    for (Probe *p : probes_) {
        if (p->inFlight) {
            Check *c = p->inFlight;
            c->probe = nullptr;
            p->inFlight = nullptr;
            finish(c, false, "");
        }
        uv_close(reinterpret_cast<uv_handle_t *>(&p->interval),
                 [](uv_handle_t *h) noexcept { delete static_cast<Probe *>(h->data); });
    }
    probes_.clear();
}

} // namespace fc::proxy
