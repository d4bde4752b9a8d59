#include "server/setup.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "proxy/log.h"

namespace fc::server {

unsigned long raiseFileLimit() {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return static_cast<unsigned long>(rl.rlim_cur);
}

int bindSocket(const config::SocketAddress &a, std::uint16_t port) {
    sockaddr_storage ss{};
    socklen_t len;
    if (a.ipv6) {
        auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        inet_pton(AF_INET6, a.host.c_str(), &s6->sin6_addr);
        len = sizeof *s6;
    } else {
        auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        inet_pton(AF_INET, a.host.c_str(), &s4->sin_addr);
        len = sizeof *s4;
    }
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (a.ipv6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
        int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

std::uint16_t boundPort(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
}

bool resolveUpstream(const config::UpstreamServer &up, std::vector<proxy::UpstreamTarget> &out,
                     std::string &err) {
    proxy::UpstreamTarget t;
    t.kind = up.kind;
    t.display = up.url;
    t.weight = up.weight;
    t.backup = up.backup;
    if (up.kind == config::UpstreamConfig::Kind::Unix) {
        t.path = up.path;
        t.hostField = "localhost";
        out.push_back(std::move(t));
        return true;
    }
    bool v6 = up.host.find(':') != std::string::npos;
    t.hostField = (v6 ? "[" + up.host + "]" : up.host) + ":" + std::to_string(up.port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    std::string port = std::to_string(up.port);
    int rc = getaddrinfo(up.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
        err = "cannot resolve upstream host \"" + up.host + "\": " + gai_strerror(rc);
        return false;
    }
    std::vector<proxy::UpstreamTarget> found = proxy::targetsFor(t, up.url, res);
    freeaddrinfo(res);
    for (auto &f : found)
        out.push_back(std::move(f));
    return true;
}

namespace {

// Tests move the cache's clock without sleeping: FRONTCACHE_TEST_CLOCK names a file holding a
// little-endian int64 offset in seconds, mapped shared so a write to it takes effect at once.
// Only the cache's notion of time moves (expiry, Age, Expires); timers are untouched.
class OffsetClock final : public cache::Clock {
public:
    explicit OffsetClock(const volatile std::int64_t *offset) : offset_(offset) {}
    std::int64_t now() const override {
        return static_cast<std::int64_t>(::time(nullptr)) + *offset_;
    }

private:
    const volatile std::int64_t *offset_;
};

} // namespace

std::unique_ptr<cache::Clock> makeClock() {
    const char *path = std::getenv("FRONTCACHE_TEST_CLOCK");
    if (path && *path) {
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            void *p = ::mmap(nullptr, 8, PROT_READ, MAP_SHARED, fd, 0);
            ::close(fd);
            if (p != MAP_FAILED) {
                FC_WARN("cache clock offset read from %s (FRONTCACHE_TEST_CLOCK, for tests)", path);
                return std::make_unique<OffsetClock>(static_cast<const volatile std::int64_t *>(p));
            }
        }
        FC_ERROR("FRONTCACHE_TEST_CLOCK=%s cannot be mapped; using the system clock", path);
    }
    return std::make_unique<cache::SystemClock>();
}

} // namespace fc::server
