#include "tools/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "http/parser.h"
#include "http/rewrite.h"

namespace fc::tools {

namespace {

// Heads larger than this are not an answer a tool expects.
constexpr std::size_t kMaxHead = 64 * 1024;

std::string connectError(int err) {
    if (err == ECONNREFUSED)
        return "refused";
    if (err == EAGAIN || err == EINPROGRESS || err == ETIMEDOUT)
        return "connect timeout";
    return std::string("connect: ") + std::strerror(err);
}

// A blocking TCP connection with SO_RCVTIMEO/SO_SNDTIMEO (which also bound connect()). -1 and
// `err` on failure.
int connectTo(const HostPort &to, double timeout, std::string &err) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    if (int rc = getaddrinfo(to.host.c_str(), to.port.c_str(), &hints, &res); rc != 0 || !res) {
        err = "cannot resolve " + to.host + ": " + gai_strerror(rc);
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
        err = connectError(errno);
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

// One response into an HttpReply, fed by the proxy's parser.
struct ReplySink final : http::ResponseParser::Sink {
    ReplySink(HttpReply &r, std::size_t maxBody) : reply(r), maxBody(maxBody) {}

    bool onResponseHead(http::ResponseHead &h) override {
        reply.status = h.status;
        reply.keepAlive = h.keepAlive;
        reply.headers = h.headers;
        return true;
    }
    void onResponseBody(std::string_view piece) override {
        if (maxBody == 0)
            return;
        if (reply.body.size() + piece.size() > maxBody)
            tooBig = true;
        else
            reply.body.append(piece);
    }
    void onResponseComplete() override { complete = true; }

    HttpReply &reply;
    std::size_t maxBody;
    bool complete = false;
    bool tooBig = false;
};

std::string recvError(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK)
        return "timeout";
    if (err == ECONNRESET)
        return "reset";
    return std::strerror(err);
}

} // namespace

std::optional<HostPort> splitHostPort(std::string_view hp, const char *defaultPort) {
    HostPort out;
    std::string_view rest;
    if (!hp.empty() && hp.front() == '[') {
        std::size_t close = hp.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        out.host = hp.substr(1, close - 1);
        rest = hp.substr(close + 1);
        if (!rest.empty() && rest.front() != ':')
            return std::nullopt;
    } else {
        std::size_t colon = hp.rfind(':');
        out.host = hp.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view() : hp.substr(colon);
    }
    if (!rest.empty())
        out.port = rest.substr(1);
    else if (defaultPort)
        out.port = defaultPort;
    if (out.host.empty() || out.port.empty())
        return std::nullopt;
    return out;
}

std::string getRequest(std::string_view target, std::string_view host, std::string_view fields) {
    std::string req = "GET ";
    req.append(target).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
    req.append(fields).append("\r\n");
    return req;
}

HttpClient::HttpClient(HostPort server, double timeoutSeconds, std::size_t maxBody)
    : server_(std::move(server)), timeout_(timeoutSeconds), maxBody_(maxBody) {}

HttpClient::~HttpClient() {
    close();
}

void HttpClient::close() {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

std::string HttpClient::connect() {
    if (fd_ >= 0)
        return "";
    std::string err;
    fd_ = connectTo(server_, timeout_, err);
    return err;
}

std::string HttpClient::roundTrip(std::string_view request, HttpReply &reply) {
    std::string failure;
    for (int attempt = 0; attempt < 2; ++attempt) {
        bool reused = fd_ >= 0;
        if (failure = connect(); !failure.empty())
            return failure;
        reply = HttpReply{};
        bool sawByte = false;
        failure = sendAll(fd_, request) ? exchangeOnce(request, reply, sawByte) : "send failed";
        if (failure.empty()) {
            if (!reply.keepAlive)
                close();
            return "";
        }
        close();
        if (!(reused && !sawByte)) // only a kept-alive connection that sent nothing is retried
            break;
    }
    return failure;
}

// Reads until the response is complete. `sawByte`: whether anything arrived (a kept-alive
// connection the server had closed sends nothing).
std::string HttpClient::exchangeOnce(std::string_view request, HttpReply &reply, bool &sawByte) {
    ReplySink sink(reply, maxBody_);
    http::ResponseParser parser(sink, kMaxHead);
    parser.start(request.starts_with("HEAD "));
    char buf[65536];
    while (!sink.complete) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return recvError(errno);
        if (n == 0) {
            if (parser.finish().status != http::ParseStatus::Error && sink.complete)
                break;
            return sawByte ? "closed mid-response" : "closed";
        }
        sawByte = true;
        if (parser.feed(buf, static_cast<std::size_t>(n)).status == http::ParseStatus::Error)
            return std::string("bad response: ") +
                   (parser.errorReason() ? parser.errorReason() : "?");
        if (sink.tooBig)
            return "too large";
    }
    return "";
}

std::string httpGet(const std::string &url, double timeoutSeconds, std::size_t maxBody,
                    std::string_view userAgent, std::string &body) {
    http::TargetParts t = http::splitTarget(url);
    if (t.scheme == "https")
        return "https is not supported for fetching sitemaps: download it first (curl -o "
               "sitemap.xml URL) and pass the file";
    if (t.scheme != "http" || t.authority.empty())
        return "not an http:// URL";
    auto server = splitHostPort(t.authority, "80");
    if (!server)
        return "bad host in URL";
    HttpClient client(std::move(*server), timeoutSeconds, maxBody);
    std::string fields = "User-Agent: " + std::string(userAgent) + "\r\nConnection: close\r\n";
    HttpReply reply;
    if (std::string err = client.roundTrip(getRequest(t.originPath(), t.authority, fields), reply);
        !err.empty())
        return err;
    if (reply.status != 200)
        return "HTTP " + std::to_string(reply.status);
    body = std::move(reply.body);
    return "";
}

} // namespace fc::tools
