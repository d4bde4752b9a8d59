#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "io/connection.h"
#include "io/listener.h"

using fc::io::BufferRef;
using fc::io::Connection;
using fc::io::Listener;

namespace {

// A blocking client socket connected to 127.0.0.1:port (the kernel completes the handshake
// before the loop accepts).
int connectTo(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    return fd;
}

std::string readAll(int fd, std::size_t n) {
    std::string got;
    char buf[65536];
    while (got.size() < n) {
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r <= 0)
            break;
        got.append(buf, static_cast<std::size_t>(r));
    }
    return got;
}

// An owner that records what the Connection reports.
struct Probe final : Connection::Owner {
    Connection conn{*this};
    char buf[4096];
    std::string in;
    int eof = 0, written = 0, shutdowns = 0, timers = 0, closed = 0;
    int lastWriteStatus = 1;

    void onRead(ssize_t n, const uv_buf_t *b) override {
        CHECK(n != 0);
        if (n < 0)
            ++eof;
        else
            in.append(b->base, static_cast<std::size_t>(n));
    }
    void onWritten(int status) override {
        ++written;
        lastWriteStatus = status;
    }
    void onShutdown(int) override { ++shutdowns; }
    void onTimer() override { ++timers; }
    void onClosed() override { ++closed; }
};

struct Fixture {
    uv_loop_t loop;
    Listener listener;
    Probe probe;
    int accepted = 0;

    Fixture() {
        REQUIRE(uv_loop_init(&loop) == 0);
        REQUIRE(listener.init(&loop, this) == 0);
        REQUIRE(listener.listen(fc::config::SocketAddress{"127.0.0.1", 0, false}, 16,
                                [](uv_stream_t *s, int status) noexcept {
                                    auto *f = static_cast<Fixture *>(s->data);
                                    CHECK(status == 0);
                                    CHECK(f->probe.conn.open(s->loop, Connection::Timer::Yes) == 0);
                                    CHECK(f->probe.conn.accept(s, Connection::NoDelay::Yes) == 0);
                                    f->probe.conn.setReadBuffer(f->probe.buf, sizeof f->probe.buf);
                                    CHECK(f->probe.conn.startReading() == 0);
                                    ++f->accepted;
                                }) == 0);
        REQUIRE(listener.port() != 0);
    }
    ~Fixture() {
        listener.close();
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    template <typename Done> void runUntil(Done done) {
        for (int i = 0; i < 10000 && !done(); ++i)
            uv_run(&loop, UV_RUN_ONCE);
        REQUIRE(done());
    }
};

int releases = 0;
void countRelease(void *) noexcept {
    ++releases;
}

} // namespace

TEST_CASE("Connection: accept, read into the owner's buffer, write, close once") {
    Fixture f;
    int client = connectTo(f.listener.port());
    f.runUntil([&] { return f.accepted == 1; });
    CHECK(f.probe.conn.fd() >= 0);
    char peer[INET6_ADDRSTRLEN];
    REQUIRE(f.probe.conn.peerName(peer, sizeof peer));
    CHECK(std::string(peer) == "127.0.0.1");

    REQUIRE(::write(client, "hello", 5) == 5);
    f.runUntil([&] { return f.probe.in == "hello"; });

    // A short write goes out at once: no request, no callback, the reference released on return.
    releases = 0;
    std::string_view parts[2] = {"head:", "body"};
    REQUIRE(f.probe.conn.write(parts, 2, 0b10, BufferRef(&releases, countRelease)) == 0);
    CHECK(releases == 1);
    CHECK(f.probe.conn.writeQueueSize() == 0);
    CHECK(readAll(client, 9) == "head:body");
    uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK(f.probe.written == 0);

    f.probe.conn.startTimer(1);
    f.runUntil([&] { return f.probe.timers == 1; });

    ::close(client);
    f.runUntil([&] { return f.probe.eof == 1; });
    f.probe.conn.close();
    f.probe.conn.close(); // idempotent
    f.runUntil([&] { return f.probe.closed == 1; });
    CHECK(f.probe.eof == 1); // nothing reported after close() but onClosed
}

TEST_CASE("Connection: a queued write keeps the pinned memory until its callback") {
    Fixture f;
    int client = connectTo(f.listener.port());
    f.runUntil([&] { return f.accepted == 1; });

    // More than the socket buffers take at once: the rest is queued, sent from the pinned memory
    // itself (not copied), and the reference is released only when it has been sent.
    const std::string page(16 << 20, 'p');
    releases = 0;
    std::string_view parts[3] = {"HEAD\r\n", page, "\r\nEND"};
    REQUIRE(f.probe.conn.write(parts, 3, 0b010, BufferRef(&releases, countRelease)) == 0);
    CHECK(f.probe.conn.writeQueueSize() > 0);
    CHECK(releases == 0);

    const std::size_t total = 6 + page.size() + 5;
    std::string got;
    std::thread reader([&] { got = readAll(client, total); });
    f.runUntil([&] { return f.probe.written == 1; });
    reader.join();
    CHECK(f.probe.lastWriteStatus == 0);
    CHECK(releases == 1);
    CHECK(f.probe.conn.writeQueueSize() == 0);
    REQUIRE(got.size() == total);
    CHECK(got.compare(0, 6, "HEAD\r\n") == 0);
    CHECK(got.compare(got.size() - 5, 5, "\r\nEND") == 0);

    // Shutdown: FIN after the queued writes; the owner is told, then closes.
    REQUIRE(f.probe.conn.shutdown() == 0);
    f.runUntil([&] { return f.probe.shutdowns == 1; });
    char c;
    CHECK(::read(client, &c, 1) == 0);
    f.probe.conn.close();
    f.runUntil([&] { return f.probe.closed == 1; });
    ::close(client);
}

TEST_CASE("Connection: closing with a write queued frees it and reports only onClosed") {
    Fixture f;
    int client = connectTo(f.listener.port());
    f.runUntil([&] { return f.accepted == 1; });
    const std::string page(16 << 20, 'p');
    releases = 0;
    std::string_view part = page;
    REQUIRE(f.probe.conn.write(&part, 1, 0b1, BufferRef(&releases, countRelease)) == 0);
    REQUIRE(f.probe.conn.writeQueueSize() > 0);
    f.probe.conn.stopReading();
    CHECK_FALSE(f.probe.conn.reading());
    f.probe.conn.close();
    f.runUntil([&] { return f.probe.closed == 1; });
    CHECK(releases == 1);        // the cancelled write's reference
    CHECK(f.probe.written == 0); // not reported once closing
    ::close(client);
}

TEST_CASE("bindReusePort: every worker binds the same port") {
    fc::config::SocketAddress a{"127.0.0.1", 0, false};
    int first = fc::io::bindReusePort(a, 0);
    REQUIRE(first >= 0);
    std::uint16_t port = fc::io::boundPort(first);
    CHECK(port != 0);
    int second = fc::io::bindReusePort(a, port);
    REQUIRE(second >= 0);
    CHECK(fc::io::boundPort(second) == port);

    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    Listener l;
    REQUIRE(l.init(&loop, nullptr) == 0);
    CHECK(l.listen(first, 4096, [](uv_stream_t *, int) noexcept {}) == 0);
    CHECK(l.port() == port);
    l.close();
    l.close(); // idempotent
    ::close(second);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}
