// frontcache-origin: a stand-in application for demos and tests. It overloads like a small
// gunicorn + Django deployment: a fixed number of workers each take --service-ms per page
// (a timer: "time in the database"), requests beyond them wait in a bounded backlog, and one
// that waited longer than --gateway-timeout-ms is answered 504, as a gateway in front of a
// saturated app would. Pages (every path answers):
//   /private  Cache-Control: private        /cookie  Set-Cookie: session=...
//   /vary     Vary: Cookie                  /nocache Cache-Control: max-age=0
//   anything else: a cacheable page (no Cache-Control) of --page-size bytes
//
//   frontcache-origin [--listen 127.0.0.1:0] [--workers 4] [--service-ms 50] [--page-size 28000]
//                     [--backlog 1024] [--gateway-timeout-ms 3000]
// Prints "frontcache-origin listening on ADDR:PORT"; SIGTERM/SIGINT stop it, printing
// "frontcache-origin: N requests, A ok, B 503, C 504" (benchmarks count what reached the app).
// One thread.
#include <CLI/CLI.hpp>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <deque>
#include <string>

#include "config/config.h"
#include "http/parser.h"
#include "http/rewrite.h"

namespace {

struct Options {
    std::string listen = "127.0.0.1:0";
    unsigned workers = 4;
    unsigned serviceMs = 50;
    std::size_t pageSize = 28000;
    std::size_t backlog = 1024;
    unsigned gatewayTimeoutMs = 3000;
};

struct Server;

struct Conn final : fc::http::RequestParser::Sink {
    Server &srv;
    uv_tcp_t tcp;
    fc::http::RequestParser parser;
    std::string pending;
    std::string path;
    bool busy = false, closing = false, keepAlive = true;
    bool complete = false;     // a request completed inside the parser: submitted after it returns
    bool handleClosed = false; // the object outlives its handle while a job refers to it
    explicit Conn(Server &s);
    bool onRequestHead(fc::http::RequestHead &h) override {
        path = h.target;
        keepAlive = h.keepAlive;
        return true;
    }
    void onRequestBody(std::string_view) override {}
    void onRequestComplete() override;
    void feed(const char *data, std::size_t len);
    void answer(int status);
    void close();
};

struct Job {
    Conn *conn;
    std::uint64_t queuedAt;
};

struct Server {
    Options opt;
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint;
    std::deque<Job> queue;
    unsigned active = 0;
    std::uint64_t requests = 0, answered[3] = {}; // 200, 503, 504
    std::string page, body;
    char readBuf[65536];
    void submit(Conn *c);
    void startNext();
};

Conn::Conn(Server &s) : srv(s), parser(*this, fc::http::RequestParser::Limits{}) {}

void Conn::onRequestComplete() {
    busy = true;
    complete = true; // submitted once the parser has returned: an immediate answer (503) resumes
    ++srv.requests;  // the parser, which must not happen from inside its own callback
}

void Conn::feed(const char *data, std::size_t len) {
    pending.append(data, len);
    while (!busy && !pending.empty() && !closing) {
        auto r = parser.feed(pending.data(), pending.size());
        pending.erase(0, r.consumed);
        if (complete) {
            complete = false;
            srv.submit(this);
            return;
        }
        if (r.status == fc::http::ParseStatus::Error) {
            answer(400);
            close();
            return;
        }
        if (r.status == fc::http::ParseStatus::NeedMore)
            return;
    }
}

void Conn::answer(int status) {
    ++srv.answered[status == 200 ? 0 : status == 503 ? 1 : 2];
    if (closing) { // the client left while its request waited or was served
        busy = false;
        if (handleClosed)
            delete this;
        return;
    }
    std::string extra;
    std::string_view p = path;
    if (p.rfind("/private", 0) == 0)
        extra = "Cache-Control: private\r\n";
    else if (p.rfind("/cookie", 0) == 0)
        extra = "Set-Cookie: session=abc123; HttpOnly\r\n";
    else if (p.rfind("/vary", 0) == 0)
        extra = "Vary: Cookie\r\n";
    else if (p.rfind("/nocache", 0) == 0)
        extra = "Cache-Control: max-age=0\r\n";
    std::string out;
    if (status == 200) {
        out = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
              std::to_string(srv.page.size()) + "\r\n" + extra +
              (keepAlive ? "" : "Connection: close\r\n") + "\r\n" + srv.page;
    } else {
        out = fc::http::errorResponse(status, !keepAlive || status == 400);
    }
    auto *w = new std::pair<uv_write_t, std::string>();
    w->second = std::move(out);
    uv_buf_t b = uv_buf_init(w->second.data(), static_cast<unsigned>(w->second.size()));
    w->first.data = w;
    uv_write(&w->first, reinterpret_cast<uv_stream_t *>(&tcp), &b, 1, [](uv_write_t *r, int) {
        delete static_cast<std::pair<uv_write_t, std::string> *>(r->data);
    });
    busy = false;
    if (!keepAlive || status == 400) {
        close();
        return;
    }
    parser.resume();
    std::string rest;
    rest.swap(pending);
    feed(rest.data(), rest.size());
}

void Conn::close() {
    if (closing)
        return;
    closing = true;
    uv_close(reinterpret_cast<uv_handle_t *>(&tcp), [](uv_handle_t *h) {
        auto *c = static_cast<Conn *>(h->data);
        c->handleClosed = true;
        if (!c->busy)
            delete c;
    });
}

void Server::submit(Conn *c) {
    if (queue.size() >= opt.backlog) { // the listen backlog of a real app server overflows
        c->answer(503);
        return;
    }
    queue.push_back({c, uv_now(loop)});
    startNext();
}

void Server::startNext() {
    while (active < opt.workers && !queue.empty()) {
        Job j = queue.front();
        queue.pop_front();
        if (j.conn->closing) {
            j.conn->answer(0); // releases it
            continue;
        }
        if (uv_now(loop) - j.queuedAt > opt.gatewayTimeoutMs) {
            j.conn->answer(504); // waited too long: the gateway gave up
            continue;
        }
        ++active;
        auto *t = new uv_timer_t;
        uv_timer_init(loop, t);
        t->data = j.conn;
        uv_timer_start(
            t,
            [](uv_timer_t *tm) {
                auto *c = static_cast<Conn *>(tm->data);
                Server &s = c->srv;
                uv_close(reinterpret_cast<uv_handle_t *>(tm),
                         [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
                --s.active;
                c->answer(200);
                s.startNext();
            },
            opt.serviceMs, 0);
    }
}

} // namespace

int main(int argc, char **argv) {
    Options opt;
    CLI::App app{"frontcache-origin: a slow, overloadable stand-in application"};
    app.add_option("--listen", opt.listen, "address:port (port 0 = any free port)");
    app.add_option("--workers", opt.workers, "requests served at once")
        ->check(CLI::Range(1, 10000));
    app.add_option("--service-ms", opt.serviceMs, "time each request takes");
    app.add_option("--page-size", opt.pageSize, "bytes per page");
    app.add_option("--backlog", opt.backlog, "requests waiting beyond the workers; more get 503");
    app.add_option("--gateway-timeout-ms", opt.gatewayTimeoutMs,
                   "a request that waited longer is answered 504");
    CLI11_PARSE(app, argc, argv);
    auto addr = fc::config::parseSocketAddress(opt.listen);
    if (!addr) {
        std::fprintf(stderr, "frontcache-origin: --listen %s: %s\n", opt.listen.c_str(),
                     addr.error().c_str());
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    static Server srv;
    srv.opt = opt;
    srv.page = "<html><body><h1>frontcache demo origin</h1>";
    while (srv.page.size() + 15 < opt.pageSize)
        srv.page += "<p>lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n";
    srv.page += "</body></html>";
    srv.page.resize(std::max<std::size_t>(opt.pageSize, 1), ' ');
    sockaddr_storage ss{};
    if (addr->ipv6)
        uv_ip6_addr(addr->host.c_str(), addr->port, reinterpret_cast<sockaddr_in6 *>(&ss));
    else
        uv_ip4_addr(addr->host.c_str(), addr->port, reinterpret_cast<sockaddr_in *>(&ss));
    uv_tcp_init(srv.loop, &srv.listener);
    int rc = uv_tcp_bind(&srv.listener, reinterpret_cast<sockaddr *>(&ss), 0);
    if (rc == 0)
        rc = uv_listen(reinterpret_cast<uv_stream_t *>(&srv.listener), 4096,
                       [](uv_stream_t *server, int status) {
                           if (status < 0)
                               return;
                           auto *c = new Conn(srv);
                           uv_tcp_init(srv.loop, &c->tcp);
                           c->tcp.data = c;
                           if (uv_accept(server, reinterpret_cast<uv_stream_t *>(&c->tcp)) != 0) {
                               c->close();
                               return;
                           }
                           uv_read_start(
                               reinterpret_cast<uv_stream_t *>(&c->tcp),
                               [](uv_handle_t *, size_t, uv_buf_t *b) {
                                   *b = uv_buf_init(srv.readBuf, sizeof srv.readBuf);
                               },
                               [](uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
                                   auto *cc = static_cast<Conn *>(st->data);
                                   if (n < 0)
                                       cc->close();
                                   else if (n > 0)
                                       cc->feed(b->base, static_cast<std::size_t>(n));
                               });
                       });
    if (rc != 0) {
        std::fprintf(stderr, "frontcache-origin: cannot listen on %s: %s\n", opt.listen.c_str(),
                     uv_strerror(rc));
        return 1;
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&srv.listener, reinterpret_cast<sockaddr *>(&bound), &len);
    fc::config::SocketAddress shown = *addr;
    shown.port = ntohs(reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
    std::printf("frontcache-origin listening on %s\n", shown.text().c_str());
    std::fflush(stdout);
    auto stop = [](uv_signal_t *, int) { uv_stop(srv.loop); };
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_start(&srv.sigterm, stop, SIGTERM);
    uv_signal_start(&srv.sigint, stop, SIGINT);
    uv_run(srv.loop, UV_RUN_DEFAULT);
    std::printf("frontcache-origin: %llu requests, %llu ok, %llu 503, %llu 504\n",
                static_cast<unsigned long long>(srv.requests),
                static_cast<unsigned long long>(srv.answered[0]),
                static_cast<unsigned long long>(srv.answered[1]),
                static_cast<unsigned long long>(srv.answered[2]));
    return 0;
}
