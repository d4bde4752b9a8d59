#include "server/setup.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "common/log.h"
#include "proxy/resolver.h"

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

bool resolveUpstream(const config::UpstreamServer &up, const std::string &resolver,
                     std::vector<proxy::UpstreamTarget> &out, std::string &err) {
    proxy::UpstreamTarget t = proxy::targetFor(up, 0); // the caller sets its group
    if (up.kind == config::UpstreamConfig::Kind::Unix) {
        out.push_back(std::move(t));
        return true;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    std::vector<proxy::UpstreamTarget> found;
    if (!resolver.empty()) { // upstream.resolver: as proxy::Resolver will look it up again
        proxy::LookupAnswer a = proxy::lookupNow(up.host, up.port, resolver, 2000);
        if (!a.error.empty()) {
            err = "cannot resolve upstream host \"" + up.host + "\" (upstream.resolver " +
                  resolver + "): " + a.error;
            return false;
        }
        std::vector<addrinfo> chain(a.addresses.size());
        for (std::size_t i = 0; i < chain.size(); ++i) {
            chain[i].ai_addr = reinterpret_cast<sockaddr *>(&a.addresses[i]);
            chain[i].ai_addrlen =
                a.addresses[i].ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
            chain[i].ai_next = i + 1 < chain.size() ? &chain[i + 1] : nullptr;
        }
        found = proxy::targetsFor(t, up.url, chain.data());
    } else {
        addrinfo *res = nullptr;
        std::string port = std::to_string(up.port);
        int rc = getaddrinfo(up.host.c_str(), port.c_str(), &hints, &res);
        if (rc != 0 || !res) {
            err = "cannot resolve upstream host \"" + up.host + "\": " + gai_strerror(rc);
            return false;
        }
        found = proxy::targetsFor(t, up.url, res);
        freeaddrinfo(res);
    }
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
