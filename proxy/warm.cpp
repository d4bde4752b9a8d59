#include "proxy/warm.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "http/parser.h"
#include "http/rewrite.h"
#include "proxy/sitemap.h"

namespace fc::proxy {

namespace {

using Clock = std::chrono::steady_clock;

// "host:port" / "[v6]:port" -> host, port.
bool splitHostPort(std::string_view hp, std::string &host, std::string &port,
                   const char *defaultPort) {
    if (hp.empty())
        return false;
    if (hp.front() == '[') {
        std::size_t close = hp.find(']');
        if (close == std::string_view::npos)
            return false;
        host = std::string(hp.substr(1, close - 1));
        std::string_view rest = hp.substr(close + 1);
        port = rest.empty() ? defaultPort : std::string(rest.substr(1));
        return rest.empty() || rest.front() == ':';
    }
    std::size_t colon = hp.rfind(':');
    host = std::string(hp.substr(0, colon));
    port = colon == std::string_view::npos ? defaultPort : std::string(hp.substr(colon + 1));
    return !host.empty() && !port.empty();
}

// A blocking connection with a receive/send timeout. -1 and `err` on failure.
int connectTo(const std::string &host, const std::string &port, double timeout, std::string &err) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0 || !res) {
        err = "cannot resolve " + host + ": " + gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    for (addrinfo *a = res; a; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        timeval tv{static_cast<time_t>(timeout),
                   static_cast<suseconds_t>((timeout - std::floor(timeout)) * 1e6)};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        err = errno == ECONNREFUSED ? "refused"
              : errno == EAGAIN || errno == EINPROGRESS || errno == ETIMEDOUT
                  ? "connect timeout"
                  : std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

bool sendAll(int fd, std::string_view b) {
    while (!b.empty()) {
        ssize_t n = ::send(fd, b.data(), b.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        b.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// One response read off a blocking socket with the proxy's own parser.
struct Reply final : http::ResponseParser::Sink {
    http::ResponseParser parser{*this, 64 * 1024};
    int status = 0;
    std::string cacheStatus, xCache;
    bool keepAlive = true;
    bool complete = false;
    bool keepBody = false;
    std::size_t bodyLimit = 0;
    std::string body;
    bool tooBig = false;

    bool onResponseHead(http::ResponseHead &h) override {
        status = h.status;
        keepAlive = h.keepAlive;
        if (auto v = h.headers.get("cache-status"))
            cacheStatus = std::string(*v);
        if (auto v = h.headers.get("x-cache"))
            xCache = std::string(*v);
        return true;
    }
    void onResponseBody(std::string_view piece) override {
        if (!keepBody)
            return;
        if (body.size() + piece.size() > bodyLimit)
            tooBig = true;
        else
            body.append(piece);
    }
    void onResponseComplete() override { complete = true; }

    void reset() {
        status = 0;
        cacheStatus.clear();
        xCache.clear();
        keepAlive = true;
        complete = tooBig = false;
        body.clear();
    }

    // Reads until the response is complete. "" on success, else what went wrong; `sawByte` says
    // whether anything arrived (a reused connection the server had closed sends nothing).
    std::string read(int fd, bool &sawByte) {
        parser.start(false);
        char buf[65536];
        sawByte = false;
        while (!complete) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? "timeout"
                       : errno == ECONNRESET                   ? "reset"
                                                               : std::strerror(errno);
            if (n == 0) {
                if (parser.finish().status != http::ParseStatus::Error && complete)
                    break;
                return sawByte ? "closed mid-response" : "closed";
            }
            sawByte = true;
            auto r = parser.feed(buf, static_cast<std::size_t>(n));
            if (r.status == http::ParseStatus::Error)
                return std::string("bad response: ") +
                       (parser.errorReason() ? parser.errorReason() : "?");
            if (tooBig)
                return "too large";
        }
        return "";
    }
};

// GET an http:// URL whole (sitemaps). "" on success.
std::string httpGet(const std::string &url, double timeout, std::string &body) {
    http::TargetParts t = http::splitTarget(url);
    if (t.scheme == "https")
        return "https is not supported for fetching sitemaps: download it first (curl -o "
               "sitemap.xml URL) and pass the file";
    if (t.scheme != "http" || t.authority.empty())
        return "not an http:// URL";
    std::string host, port, err;
    if (!splitHostPort(t.authority, host, port, "80"))
        return "bad host in URL";
    int fd = connectTo(host, port, timeout, err);
    if (fd < 0)
        return err;
    std::string req = "GET " + std::string(t.originPath()) +
                      " HTTP/1.1\r\nHost: " + std::string(t.authority) +
                      "\r\nUser-Agent: frontcache-warm\r\nConnection: close\r\n\r\n";
    Reply r;
    r.keepBody = true;
    r.bodyLimit = 256u << 20;
    bool saw = false;
    if (!sendAll(fd, req)) {
        ::close(fd);
        return "send failed";
    }
    err = r.read(fd, saw);
    ::close(fd);
    if (!err.empty())
        return err;
    if (r.status != 200)
        return "HTTP " + std::to_string(r.status);
    body = std::move(r.body);
    return "";
}

struct Job {
    std::string authority; // Host
    std::string path;      // origin-form target
    bool https = false;
    std::string encoding; // Accept-Encoding ("" = none sent)
};

// Collects the URLs of every source, following sitemap indexes.
class Collector {
public:
    Collector(const WarmOptions &o) : o_(o) {}

    bool add(const std::string &source, int depth) {
        std::string bytes, err;
        if (source == "-") {
            bytes.assign(std::istreambuf_iterator<char>(std::cin), {});
        } else if (source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0) {
            err = httpGet(source, o_.timeoutSeconds, bytes);
        } else {
            std::ifstream in(source, std::ios::binary);
            if (!in)
                err = std::strerror(errno);
            else
                bytes.assign(std::istreambuf_iterator<char>(in), {});
        }
        if (!err.empty()) {
            std::fprintf(stderr, "frontcache warm: %s: %s\n", source.c_str(), err.c_str());
            return false;
        }
        if (looksLikeXml(bytes)) {
            Sitemap s = parseSitemap(bytes);
            if (!s.error.empty()) {
                std::fprintf(stderr, "frontcache warm: %s: %s\n", source.c_str(), s.error.c_str());
                return false;
            }
            ++sitemaps_;
            if (s.index) {
                if (depth >= 3) {
                    std::fprintf(stderr, "frontcache warm: %s: sitemap indexes nested too deep\n",
                                 source.c_str());
                    return false;
                }
                bool ok = true;
                for (const auto &loc : s.locs)
                    ok = add(loc, depth + 1) && ok;
                return ok;
            }
            for (const auto &loc : s.locs)
                url(loc, source);
            return true;
        }
        std::istringstream lines(bytes);
        std::string line;
        while (std::getline(lines, line)) {
            std::string_view l = http::trimOws(line);
            if (!l.empty() && l.back() == '\r')
                l.remove_suffix(1);
            if (!l.empty() && l.front() != '#')
                url(std::string(l), source);
        }
        return true;
    }

    std::vector<Job> jobs;
    std::size_t sitemaps_ = 0, skipped_ = 0;

private:
    void url(const std::string &u, const std::string &source) {
        std::string_view v = u;
        v = v.substr(0, v.find('#')); // a fragment never reaches a server
        http::TargetParts t = http::splitTarget(v);
        Job j;
        if (t.absolute()) {
            if ((t.scheme != "http" && t.scheme != "https") || t.authority.empty()) {
                ++skipped_;
                std::fprintf(stderr, "frontcache warm: %s: skipped \"%s\" (not http/https)\n",
                             source.c_str(), u.c_str());
                return;
            }
            j.authority = std::string(t.authority);
            j.https = t.scheme == "https";
            j.path = std::string(t.originPath());
        } else if (!v.empty() && v.front() == '/') {
            j.authority = o_.host.empty() ? o_.target : o_.host;
            j.path = std::string(v);
        } else {
            ++skipped_;
            std::fprintf(stderr, "frontcache warm: %s: skipped \"%s\" (not a URL or /path)\n",
                         source.c_str(), u.c_str());
            return;
        }
        if (o_.encodings.empty()) {
            jobs.push_back(std::move(j));
            return;
        }
        for (const auto &e : o_.encodings) {
            j.encoding = e == "identity" ? "" : e;
            jobs.push_back(j);
        }
    }
    const WarmOptions &o_;
};

// The outcome of one request, from frontcache's Cache-Status (RFC 9211) field.
struct Tally {
    std::mutex mu;
    std::size_t done = 0, stored = 0, fresh = 0, stale = 0, revalidated = 0, notStorable = 0,
                errors = 0;
    std::map<std::string, std::size_t> notStorableWhy, errorKinds;

    void record(const Reply &r, const std::string &failure) {
        std::lock_guard lock(mu);
        ++done;
        if (!failure.empty()) {
            ++errors;
            ++errorKinds[failure];
            return;
        }
        if (r.status >= 500) {
            ++errors;
            ++errorKinds["HTTP " + std::to_string(r.status)];
            return;
        }
        std::string_view cs = r.cacheStatus;
        auto param = [&](std::string_view name) -> std::string {
            std::size_t at = cs.find(name);
            if (at == std::string_view::npos)
                return "";
            std::string_view rest = cs.substr(at + name.size());
            return std::string(rest.substr(0, rest.find(';')));
        };
        std::string detail = param("detail=");
        if (cs.empty()) {
            ++notStorable;
            ++notStorableWhy["no Cache-Status field (cache.cache_status = false?)"];
        } else if (cs.find("; hit") != std::string_view::npos) {
            if (detail.rfind("stale", 0) == 0)
                ++stale;
            else
                ++fresh;
        } else if (cs.find("fwd-status=304") != std::string_view::npos) {
            ++revalidated;
        } else if (cs.find("fwd=uri-miss") != std::string_view::npos && detail.empty() &&
                   r.status == 200) {
            ++stored;
        } else {
            ++notStorable;
            std::string why = detail.empty() ? "HTTP " + std::to_string(r.status) : detail;
            if (cs.find("fwd=bypass") != std::string_view::npos)
                why = "bypass: " + why;
            ++notStorableWhy[why];
        }
    }
};

std::string kinds(const std::map<std::string, std::size_t> &m) {
    std::string s;
    for (const auto &[k, v] : m)
        s += (s.empty() ? "" : ", ") + k + ": " + std::to_string(v);
    return s;
}

} // namespace

int runWarm(const WarmOptions &o) {
    if (o.concurrency == 0 || o.rate < 0) {
        std::fprintf(stderr, "frontcache warm: --concurrency must be at least 1 and --rate "
                             "not negative\n");
        return 2;
    }
    std::string tHost, tPort;
    if (!splitHostPort(o.target, tHost, tPort, "80")) {
        std::fprintf(stderr, "frontcache warm: --target \"%s\": expected HOST:PORT\n",
                     o.target.c_str());
        return 2;
    }
    Collector c(o);
    bool allRead = true;
    for (const auto &s : o.sources.empty() ? std::vector<std::string>{"-"} : o.sources)
        allRead = c.add(s, 0) && allRead;
    if (c.jobs.empty()) {
        std::fprintf(stderr, "frontcache warm: no URLs to warm\n");
        return 2;
    }
    {
        std::string err;
        int probe = connectTo(tHost, tPort, o.timeoutSeconds, err);
        if (probe < 0) {
            std::fprintf(stderr, "frontcache warm: cannot reach frontcache at %s: %s\n",
                         o.target.c_str(), err.c_str());
            return 2;
        }
        ::close(probe);
    }

    Tally tally;
    std::atomic<std::size_t> next{0};
    const auto t0 = Clock::now();
    auto worker = [&] {
        int fd = -1;
        std::string err;
        for (;;) {
            std::size_t i = next.fetch_add(1);
            if (i >= c.jobs.size())
                break;
            if (o.rate > 0) // job i starts at t0 + i/rate: the rate holds across connections
                std::this_thread::sleep_until(
                    t0 + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(static_cast<double>(i) / o.rate)));
            const Job &j = c.jobs[i];
            std::string req = "GET " + j.path + " HTTP/1.1\r\nHost: " + j.authority +
                              "\r\nUser-Agent: frontcache-warm\r\n";
            if (!j.encoding.empty())
                req += "Accept-Encoding: " + j.encoding + "\r\n";
            if (j.https)
                req += "X-Forwarded-Proto: https\r\n";
            req += "\r\n";
            Reply r;
            std::string failure;
            for (int attempt = 0; attempt < 2; ++attempt) {
                bool reused = fd >= 0;
                if (fd < 0 && (fd = connectTo(tHost, tPort, o.timeoutSeconds, err)) < 0) {
                    failure = err;
                    break;
                }
                r.reset();
                bool saw = false;
                failure = sendAll(fd, req) ? r.read(fd, saw) : "send failed";
                if (failure.empty()) {
                    if (!r.keepAlive) {
                        ::close(fd);
                        fd = -1;
                    }
                    break;
                }
                ::close(fd);
                fd = -1;
                if (!(reused && !saw)) // a kept-alive connection the server had closed: retry
                    break;
            }
            tally.record(r, failure);
        }
        if (fd >= 0)
            ::close(fd);
    };
    std::vector<std::thread> threads;
    unsigned n = std::min<std::size_t>(o.concurrency, c.jobs.size());
    for (unsigned k = 0; k < n; ++k)
        threads.emplace_back(worker);

    const bool tty = isatty(2);
    auto progress = [&](bool last) {
        std::lock_guard lock(tally.mu);
        double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        std::fprintf(stderr,
                     "%swarm: %zu/%zu (%.0f%%) %.1f/s  stored %zu  fresh %zu  not storable %zu  "
                     "errors %zu%s",
                     tty ? "\r" : "", tally.done, c.jobs.size(),
                     100.0 * static_cast<double>(tally.done) / static_cast<double>(c.jobs.size()),
                     secs > 0 ? static_cast<double>(tally.done) / secs : 0.0, tally.stored,
                     tally.fresh + tally.stale + tally.revalidated, tally.notStorable, tally.errors,
                     tty && !last ? "   " : "\n");
        std::fflush(stderr);
    };
    int tick = 0;
    while (true) {
        {
            std::lock_guard lock(tally.mu);
            if (tally.done >= c.jobs.size())
                break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        // each second on a terminal; every 5 s into a log
        if (!o.quiet && ++tick % (tty ? 10 : 50) == 0)
            progress(false);
    }
    for (auto &t : threads)
        t.join();
    if (!o.quiet)
        progress(true);

    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf(
        "warmed %zu request(s) for %zu URL(s) from %zu source(s)%s through %s in %.1f s "
        "(%.1f/s, concurrency %u)\n",
        c.jobs.size(), o.encodings.empty() ? c.jobs.size() : c.jobs.size() / o.encodings.size(),
        o.sources.empty() ? std::size_t(1) : o.sources.size(),
        c.sitemaps_ ? (" (" + std::to_string(c.sitemaps_) + " sitemap(s))").c_str() : "",
        o.target.c_str(), secs, secs > 0 ? static_cast<double>(c.jobs.size()) / secs : 0.0, n);
    std::printf("  stored              %zu\n", tally.stored);
    std::printf("  already fresh       %zu\n", tally.fresh);
    std::printf("  stale, refreshing   %zu\n", tally.stale);
    std::printf("  revalidated         %zu\n", tally.revalidated);
    std::printf("  not storable        %zu%s%s%s\n", tally.notStorable,
                tally.notStorable ? "  (" : "", kinds(tally.notStorableWhy).c_str(),
                tally.notStorable ? ")" : "");
    std::printf("  errors              %zu%s%s%s\n", tally.errors, tally.errors ? "  (" : "",
                kinds(tally.errorKinds).c_str(), tally.errors ? ")" : "");
    if (c.skipped_)
        std::printf("  skipped             %zu (not http/https URLs)\n", c.skipped_);
    std::fflush(stdout);
    return tally.errors || !allRead ? 1 : 0;
}

} // namespace fc::proxy
