#include "benchmarks/load/engine.h"

#include <netdb.h>
#include <uv.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <thread>

#include "http/parser.h"

namespace fc::bench {

const char *errorName(int kind) {
    static const char *names[] = {"connect",  "timeout",  "reset",
                                  "http_4xx", "http_5xx", "http_504"};
    return kind >= 0 && kind < kErrorKinds ? names[kind] : "?";
}

std::string parseTarget(const std::string &url, Target &out) {
    out.url = url;
    if (url.rfind("http://", 0) != 0)
        return "expected http://host[:port]/path, got \"" + url + "\"";
    std::string rest = url.substr(7);
    std::size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    out.path = slash == std::string::npos ? "/" : rest.substr(slash);
    out.host = authority;
    std::string host = authority, port = "80";
    if (!authority.empty() && authority[0] == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string::npos)
            return "unterminated IPv6 address in " + url;
        host = authority.substr(1, close - 1);
        if (close + 2 <= authority.size() && authority[close + 1] == ':')
            port = authority.substr(close + 2);
    } else if (std::size_t colon = authority.rfind(':'); colon != std::string::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0 || !res)
        return "cannot resolve " + host + ": " + gai_strerror(rc);
    std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return {};
}

namespace {

constexpr std::size_t kMaxSamplesPerThread = 20000;

struct ThreadState;

class User final : private http::ResponseParser::Sink {
public:
    User(ThreadState &ts, std::size_t group, std::uint64_t startNs, double periodNs)
        : ts_(ts), group_(group), parser_(*this, 64 * 1024), nextIntended_(startNs),
          periodNs_(periodNs) {}
    void init();
    void schedule(std::uint64_t atNs);
    void stop();
    bool closed() const { return timersClosed_ == 2 && !tcp_; }

private:
    void connect();
    void send();
    void fail(int kind);
    void dropConnection();
    void done(int status);
    bool onResponseHead(http::ResponseHead &h) override {
        status_ = h.status;
        keepAlive_ = h.keepAlive;
        return true;
    }
    void onResponseBody(std::string_view) override {}
    void onResponseComplete() override { complete_ = true; }

    ThreadState &ts_;
    std::size_t group_;
    http::ResponseParser parser_;
    uv_tcp_t *tcp_ = nullptr;
    uv_timer_t sched_, timeout_;
    int timersClosed_ = 0;
    std::uint64_t nextIntended_, intended_ = 0, sent_ = 0;
    double periodNs_;
    int status_ = 0;
    bool keepAlive_ = true, complete_ = false, connected_ = false, inflight_ = false;
    bool stopping_ = false;
    friend struct ThreadState;
    static void onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
};

struct ThreadState {
    const Target &target;
    const LoadOptions &opt;
    const std::vector<UserGroup> &groups;
    std::vector<std::vector<std::string>> requests; // per group, per path
    std::uint64_t startNs, deadlineNs;
    uv_loop_t loop;
    uv_timer_t stopTimer;
    std::vector<std::unique_ptr<User>> users;
    char readBuf[64 * 1024];
    std::mutex mu;
    RunStats stats; // total, intervals, samples, and per-group totals and intervals
    std::uint64_t seenSamples = 0;
    std::mt19937_64 rng{std::random_device{}()};

    ThreadState(const Target &t, const LoadOptions &o, const std::vector<UserGroup> &g,
                std::uint64_t start)
        : target(t), opt(o), groups(g), startNs(start),
          deadlineNs(start + static_cast<std::uint64_t>(o.durationS * 1e9)) {
        std::size_t n = static_cast<std::size_t>(std::ceil(o.durationS / o.intervalS)) + 1;
        stats.intervals.resize(n);
        for (const UserGroup &grp : g) {
            std::vector<std::string> reqs;
            for (const std::string &path : grp.paths) {
                std::string r = "GET " + path + " HTTP/1.1\r\nHost: " + t.host + "\r\n";
                for (auto &h : grp.headers)
                    r += h + "\r\n";
                reqs.push_back(r + "\r\n");
            }
            requests.push_back(std::move(reqs));
            stats.groups.push_back(GroupStats{grp.name, {}, std::vector<IntervalStats>(n)});
        }
    }

    const std::string &pickRequest(std::size_t group) {
        const UserGroup &g = groups[group];
        const auto &reqs = requests[group];
        if (reqs.size() == 1)
            return reqs[0];
        double total = 0;
        for (double w : g.weights)
            total += w;
        double x = std::uniform_real_distribution<double>(0, total)(rng);
        for (std::size_t i = 0; i < reqs.size(); ++i) {
            if (x < g.weights[i])
                return reqs[i];
            x -= g.weights[i];
        }
        return reqs.back();
    }

    void record(std::size_t group, std::uint64_t nowNs, std::uint64_t latencyNs, int status,
                int errorKind) {
        if (nowNs > deadlineNs)
            return; // answers after the end of the run are not part of it
        std::lock_guard lock(mu);
        std::size_t idx =
            static_cast<std::size_t>(static_cast<double>(nowNs - startNs) / 1e9 / opt.intervalS);
        if (idx >= stats.intervals.size())
            idx = stats.intervals.size() - 1;
        GroupStats &gs = stats.groups[group];
        for (IntervalStats *iv :
             {&stats.intervals[idx], &stats.total, &gs.intervals[idx], &gs.total}) {
            if (errorKind >= 0)
                ++iv->errors[errorKind];
            if (status != 0) {
                ++iv->requests;
                iv->latency.record(latencyNs);
            }
        }
        if (status == 0)
            return; // transport error: no response, no latency
        Sample s{static_cast<float>(static_cast<double>(nowNs - startNs) / 1e9),
                 static_cast<float>(static_cast<double>(latencyNs) / 1e6), errorKind < 0};
        ++seenSamples;
        if (stats.samples.size() < kMaxSamplesPerThread)
            stats.samples.push_back(s);
        else if (std::uint64_t j = rng() % seenSamples; j < kMaxSamplesPerThread)
            stats.samples[j] = s; // reservoir sampling keeps a uniform sample
    }
};

std::uint64_t nowNs() {
    return uv_hrtime();
}

void User::init() {
    uv_timer_init(&ts_.loop, &sched_);
    uv_timer_init(&ts_.loop, &timeout_);
    sched_.data = timeout_.data = this;
}

void User::schedule(std::uint64_t atNs) {
    if (stopping_)
        return;
    std::uint64_t now = nowNs();
    std::uint64_t delayMs = atNs > now ? (atNs - now) / 1000000 : 0;
    if (delayMs == 0 && atNs <= now) {
        intended_ = atNs;
        send();
        return;
    }
    intended_ = atNs;
    uv_timer_start(
        &sched_, [](uv_timer_t *t) { static_cast<User *>(t->data)->send(); }, delayMs, 0);
}

void User::connect() {
    tcp_ = new uv_tcp_t;
    uv_tcp_init(&ts_.loop, tcp_);
    tcp_->data = this;
    uv_tcp_nodelay(tcp_, 1);
    auto *req = new uv_connect_t;
    req->data = this;
    int rc = uv_tcp_connect(req, tcp_, reinterpret_cast<const sockaddr *>(&ts_.target.addr),
                            [](uv_connect_t *r, int status) {
                                auto *u = static_cast<User *>(r->data);
                                delete r;
                                if (status == UV_ECANCELED)
                                    return;
                                if (status < 0) {
                                    u->fail(kConnect);
                                    return;
                                }
                                u->connected_ = true;
                                uv_read_start(
                                    reinterpret_cast<uv_stream_t *>(u->tcp_),
                                    [](uv_handle_t *h, size_t, uv_buf_t *b) {
                                        auto *uu = static_cast<User *>(h->data);
                                        *b = uv_buf_init(uu->ts_.readBuf, sizeof uu->ts_.readBuf);
                                    },
                                    &User::onRead);
                                u->send();
                            });
    if (rc < 0) {
        delete req;
        fail(kConnect);
    }
}

void User::send() {
    if (stopping_)
        return;
    if (!tcp_) {
        connect(); // sends once connected
        return;
    }
    if (!connected_)
        return;
    sent_ = nowNs();
    if (intended_ == 0 || periodNs_ == 0)
        intended_ = sent_; // closed loop: latency counts from the send
    parser_.start(false);
    complete_ = false;
    status_ = 0;
    inflight_ = true;
    const std::string &request = ts_.pickRequest(group_);
    uv_buf_t b =
        uv_buf_init(const_cast<char *>(request.data()), static_cast<unsigned>(request.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t *>(tcp_), &b, 1);
    if (n < 0 || static_cast<std::size_t>(n) != request.size()) {
        // Requests are small; a socket that cannot take one at once is treated as broken.
        fail(kReset);
        return;
    }
    uv_timer_start(
        &timeout_, [](uv_timer_t *t) { static_cast<User *>(t->data)->fail(kTimeout); },
        static_cast<std::uint64_t>(ts_.groups[group_].timeoutS * 1000), 0);
}

void User::onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    auto *u = static_cast<User *>(s->data);
    if (n == 0 || u->stopping_)
        return;
    if (n < 0) {
        if (u->inflight_) {
            auto r = u->parser_.finish();
            if (r.status == http::ParseStatus::Paused && u->complete_) {
                u->done(u->status_);
                return;
            }
            u->fail(kReset);
        } else {
            u->dropConnection(); // the server closed an idle keep-alive connection
        }
        return;
    }
    if (!u->inflight_) {
        u->fail(kReset); // bytes nobody asked for
        return;
    }
    auto r = u->parser_.feed(buf->base, static_cast<std::size_t>(n));
    if (r.status == http::ParseStatus::Error)
        u->fail(kReset);
    else if (u->complete_)
        u->done(u->status_);
}

void User::done(int status) {
    std::uint64_t now = nowNs();
    inflight_ = false;
    uv_timer_stop(&timeout_);
    int kind = -1;
    if (status == 504)
        kind = kHttp504;
    else if (status >= 500)
        kind = kHttp5xx;
    else if (status >= 400)
        kind = kHttp4xx;
    ts_.record(group_, now, now - intended_, status, kind);
    if (!keepAlive_)
        dropConnection();
    if (periodNs_ > 0) {
        nextIntended_ = intended_ + static_cast<std::uint64_t>(periodNs_);
        schedule(nextIntended_);
    } else if (ts_.groups[group_].thinkS > 0) {
        schedule(now + static_cast<std::uint64_t>(ts_.groups[group_].thinkS * 1e9));
    } else {
        intended_ = 0;
        send();
    }
}

void User::fail(int kind) {
    std::uint64_t now = nowNs();
    bool wasInflight = inflight_ || kind == kConnect;
    inflight_ = false;
    uv_timer_stop(&timeout_);
    if (wasInflight)
        ts_.record(group_, now, 0, 0, kind);
    dropConnection();
    if (stopping_)
        return;
    // Try again shortly (a refused connection must not spin).
    std::uint64_t next = periodNs_ > 0 ? intended_ + static_cast<std::uint64_t>(periodNs_)
                                       : now + (kind == kConnect ? 10'000'000ull : 0);
    schedule(next);
}

void User::dropConnection() {
    if (!tcp_)
        return;
    uv_read_stop(reinterpret_cast<uv_stream_t *>(tcp_));
    uv_close(reinterpret_cast<uv_handle_t *>(tcp_),
             [](uv_handle_t *h) { delete reinterpret_cast<uv_tcp_t *>(h); });
    tcp_ = nullptr;
    connected_ = false;
}

void User::stop() {
    stopping_ = true;
    dropConnection();
    uv_timer_stop(&sched_);
    uv_timer_stop(&timeout_);
    auto closed = [](uv_handle_t *h) { ++static_cast<User *>(h->data)->timersClosed_; };
    uv_close(reinterpret_cast<uv_handle_t *>(&sched_), closed);
    uv_close(reinterpret_cast<uv_handle_t *>(&timeout_), closed);
}

void mergeInterval(IntervalStats &dst, const IntervalStats &src) {
    dst.requests += src.requests;
    for (int k = 0; k < kErrorKinds; ++k)
        dst.errors[k] += src.errors[k];
    dst.latency.merge(src.latency);
}

void mergeIntervals(std::vector<IntervalStats> &dst, const std::vector<IntervalStats> &src) {
    if (dst.size() < src.size())
        dst.resize(src.size());
    for (std::size_t i = 0; i < src.size(); ++i)
        mergeInterval(dst[i], src[i]);
}

void mergeInto(RunStats &dst, const RunStats &src) {
    mergeInterval(dst.total, src.total);
    mergeIntervals(dst.intervals, src.intervals);
    if (dst.groups.size() < src.groups.size())
        dst.groups.resize(src.groups.size());
    for (std::size_t g = 0; g < src.groups.size(); ++g) {
        dst.groups[g].name = src.groups[g].name;
        mergeInterval(dst.groups[g].total, src.groups[g].total);
        mergeIntervals(dst.groups[g].intervals, src.groups[g].intervals);
    }
}

} // namespace

RunStats LoadRun::run(void (*progress)(const RunStats &, void *), void *ctx) {
    std::vector<UserGroup> groups = opt_.groups;
    if (groups.empty()) {
        UserGroup g;
        g.users = opt_.users;
        g.paths = {target_.path};
        g.weights = {1};
        g.headers = opt_.headers;
        g.thinkS = opt_.thinkS;
        g.timeoutS = opt_.timeoutS;
        groups.push_back(g);
    }
    // Every user, with its group: user i of all belongs to the group whose range holds i.
    std::vector<std::size_t> userGroup;
    for (std::size_t g = 0; g < groups.size(); ++g)
        for (unsigned u = 0; u < groups[g].users; ++u)
            userGroup.push_back(g);
    const unsigned totalUsers = static_cast<unsigned>(userGroup.size());
    const std::uint64_t start = nowNs();
    const unsigned threads = std::max(1u, std::min(opt_.threads, std::max(1u, totalUsers)));
    std::vector<std::unique_ptr<ThreadState>> states;
    std::vector<std::thread> pool;
    std::atomic<unsigned> running{threads};
    for (unsigned t = 0; t < threads; ++t)
        states.push_back(std::make_unique<ThreadState>(target_, opt_, groups, start));
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            ThreadState &ts = *states[t];
            uv_loop_init(&ts.loop);
            // Users are spread over the threads; user i starts at i/users of the ramp-up.
            const double periodNs = opt_.rate > 0 ? 1e9 * totalUsers / opt_.rate : 0;
            for (unsigned i = t; i < totalUsers; i += threads) {
                auto offset = static_cast<std::uint64_t>(opt_.rampupS * 1e9 * i / totalUsers);
                // Open loop: stagger users over one period so sends are evenly spread.
                if (periodNs > 0)
                    offset += static_cast<std::uint64_t>(periodNs * i / totalUsers);
                ts.users.push_back(
                    std::make_unique<User>(ts, userGroup[i], start + offset, periodNs));
                ts.users.back()->init();
                ts.users.back()->schedule(start + offset);
            }
            uv_timer_init(&ts.loop, &ts.stopTimer);
            ts.stopTimer.data = &ts;
            std::uint64_t now = nowNs();
            uv_timer_start(
                &ts.stopTimer,
                [](uv_timer_t *tm) {
                    auto *s = static_cast<ThreadState *>(tm->data);
                    for (auto &u : s->users)
                        u->stop();
                    uv_close(reinterpret_cast<uv_handle_t *>(tm), nullptr);
                },
                ts.deadlineNs > now ? (ts.deadlineNs - now) / 1000000 : 0, 0);
            uv_run(&ts.loop, UV_RUN_DEFAULT);
            uv_loop_close(&ts.loop);
            --running;
        });
    }
    auto lastProgress = std::chrono::steady_clock::now();
    while (running.load() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (progress &&
            std::chrono::steady_clock::now() - lastProgress >= std::chrono::seconds(1)) {
            lastProgress = std::chrono::steady_clock::now();
            RunStats so;
            so.elapsedS = static_cast<double>(nowNs() - start) / 1e9;
            for (auto &s : states) {
                std::lock_guard lock(s->mu);
                mergeInto(so, s->stats);
            }
            progress(so, ctx);
        }
    }
    for (auto &th : pool)
        th.join();
    RunStats out;
    out.elapsedS = std::min(static_cast<double>(nowNs() - start) / 1e9, opt_.durationS);
    for (auto &s : states) {
        mergeInto(out, s->stats);
        out.samples.insert(out.samples.end(), s->stats.samples.begin(), s->stats.samples.end());
    }
    return out;
}

} // namespace fc::bench
