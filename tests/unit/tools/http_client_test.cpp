#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tools/http_client.h"

using namespace fc::tools;

namespace {

// A loopback server on its own thread: connection i reads one request head per answer in
// script[i], writes that answer, and is closed after its last. Gives up after a second without
// a connection, so a failing test never hangs.
// A listening socket on 127.0.0.1, port chosen by the kernel.
int listenOnLoopback(std::string &port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), len) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    port = std::to_string(ntohs(a.sin_port));
    return fd;
}

using Script = std::vector<std::vector<std::string>>; // per connection, its answers in order

class ScriptedServer {
public:
    explicit ScriptedServer(Script script) : script_(std::move(script)) {
        fd_ = listenOnLoopback(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        thread_.join();
        ::close(fd_);
    }
    HostPort address() const { return {"127.0.0.1", port_}; }
    int connections() const { return accepted_; }
    std::string lastRequest() const { return lastRequest_; }

private:
    void serve() {
        for (const auto &answers : script_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 1000) != 1)
                return;
            int c = ::accept(fd_, nullptr, nullptr);
            ++accepted_;
            std::string in;
            for (const std::string &answer : answers) {
                char buf[4096];
                std::size_t end;
                while ((end = in.find("\r\n\r\n")) == std::string::npos) {
                    ssize_t n = ::recv(c, buf, sizeof buf, 0);
                    if (n <= 0)
                        break;
                    in.append(buf, static_cast<std::size_t>(n));
                }
                if (end == std::string::npos)
                    break;
                lastRequest_ = in.substr(0, end + 4);
                in.erase(0, end + 4);
                ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
            }
            ::close(c);
        }
    }

    Script script_;
    int fd_ = -1;
    std::string port_;
    std::thread thread_;
    std::atomic<int> accepted_{0};
    std::string lastRequest_; // read after the thread is done with it
};

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Status: a; hit\r\n"
                        "Cache-Status: frontcache; fwd=uri-miss\r\n\r\nhello";
const std::string kOkClose = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

} // namespace

TEST_CASE("HOST:PORT, [v6]:PORT, and a default port where one is allowed") {
    auto hp = splitHostPort("127.0.0.1:8080", nullptr);
    REQUIRE(hp);
    CHECK(hp->host == "127.0.0.1");
    CHECK(hp->port == "8080");
    hp = splitHostPort("[::1]:9090", nullptr);
    REQUIRE(hp);
    CHECK(hp->host == "::1");
    CHECK(hp->port == "9090");
    CHECK(splitHostPort("[::1]", "80")->port == "80");
    CHECK(splitHostPort("example.com", "80")->port == "80");
    CHECK_FALSE(splitHostPort("example.com", nullptr));
    CHECK_FALSE(splitHostPort("example.com:", "80"));
    CHECK_FALSE(splitHostPort(":80", "80"));
    CHECK_FALSE(splitHostPort("[::1]x", "80"));
    CHECK_FALSE(splitHostPort("[::1", "80"));
    CHECK_FALSE(splitHostPort("", "80"));
}

TEST_CASE("a GET request: the target, Host, the fields given, the blank line") {
    CHECK(getRequest("/a?b", "site.test") == "GET /a?b HTTP/1.1\r\nHost: site.test\r\n\r\n");
    CHECK(getRequest("/", "h:1", "X-A: 1\r\n") == "GET / HTTP/1.1\r\nHost: h:1\r\nX-A: 1\r\n\r\n");
}

TEST_CASE("responses on one kept-alive connection, read with the proxy's parser") {
    ScriptedServer server({{kOk, kOk}});
    HttpClient client(server.address(), 2, 1024);
    for (int i = 0; i < 2; ++i) {
        HttpReply r;
        REQUIRE(client.roundTrip(getRequest("/", "x"), r) == "");
        CHECK(r.status == 200);
        CHECK(r.keepAlive);
        CHECK(r.body == "hello");
        CHECK(r.headers.count("cache-status") == 2);
    }
    client.close();
    CHECK(server.connections() == 1);
}

TEST_CASE("a kept-alive connection the server closed is opened again, once") {
    ScriptedServer server({{kOk}, {kOkClose}});
    HttpClient client(server.address(), 2, 1024);
    HttpReply r;
    REQUIRE(client.roundTrip(getRequest("/", "x"), r) == "");
    ::usleep(50 * 1000); // the server closes its first connection
    REQUIRE(client.roundTrip(getRequest("/2", "x"), r) == "");
    CHECK(r.body == "ok");
    CHECK_FALSE(r.keepAlive);
    CHECK(server.connections() == 2);
}

TEST_CASE("bodies dropped, kept, or too large") {
    {
        ScriptedServer server({{kOk}});
        HttpClient client(server.address(), 2); // no body limit: read and dropped
        HttpReply r;
        REQUIRE(client.roundTrip(getRequest("/", "x"), r) == "");
        CHECK(r.body.empty());
    }
    {
        ScriptedServer server({{kOk}});
        HttpClient client(server.address(), 2, 4);
        HttpReply r;
        CHECK(client.roundTrip(getRequest("/", "x"), r) == "too large");
    }
}

TEST_CASE("what goes wrong is said: refused, timeout, closed, a bad response") {
    HostPort closed;
    {
        ScriptedServer server(Script{}); // no connection expected
        closed = server.address();
    }
    HttpReply r;
    CHECK(HttpClient(closed, 2).connect() == "refused");
    {
        ScriptedServer server({{""}}); // reads the request, says nothing, closes
        CHECK(HttpClient(server.address(), 2).roundTrip(getRequest("/", "x"), r) == "closed");
    }
    {
        ScriptedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"}});
        CHECK(HttpClient(server.address(), 2).roundTrip(getRequest("/", "x"), r) ==
              "closed mid-response");
    }
    {
        ScriptedServer server({{"NOT HTTP\r\n\r\n"}});
        CHECK(HttpClient(server.address(), 2)
                  .roundTrip(getRequest("/", "x"), r)
                  .rfind("bad response: ", 0) == 0);
    }
    {
        // Connected (the kernel's backlog accepts), then silent until the client gives up.
        std::string port;
        int silent = listenOnLoopback(port);
        HttpClient client({"127.0.0.1", port}, 0.2);
        CHECK(client.roundTrip(getRequest("/", "x"), r) == "timeout");
        ::close(silent);
    }
}

TEST_CASE("httpGet: a whole body from an http:// URL, or why not") {
    std::string body;
    {
        ScriptedServer server({{kOkClose}});
        REQUIRE(httpGet("http://127.0.0.1:" + server.address().port + "/sitemap.xml", 2, 1024,
                        "frontcache-warm", body) == "");
        CHECK(body == "ok");
        CHECK(server.lastRequest() ==
              "GET /sitemap.xml HTTP/1.1\r\nHost: 127.0.0.1:" + server.address().port +
                  "\r\nUser-Agent: frontcache-warm\r\n"
                  "Connection: close\r\n\r\n");
    }
    {
        ScriptedServer server({{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"}});
        CHECK(httpGet("http://127.0.0.1:" + server.address().port + "/", 2, 1024, "t", body) ==
              "HTTP 404");
    }
    CHECK(httpGet("https://example.com/s.xml", 2, 1024, "t", body).rfind("https is not", 0) == 0);
    CHECK(httpGet("ftp://example.com/s.xml", 2, 1024, "t", body) == "not an http:// URL");
}
