#include "io/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace fc::io {

namespace {
std::uint16_t portOf(const sockaddr_storage &ss) {
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6 *>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in *>(&ss)->sin_port);
}
} // namespace

int bindReusePort(const config::SocketAddress &a, std::uint16_t port) {
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
    return portOf(ss);
}

int Listener::init(uv_loop_t *loop, void *data) {
    if (int rc = uv_tcp_init(loop, &tcp_); rc < 0)
        return rc;
    tcp_.data = data;
    open_ = true;
    return 0;
}

int Listener::listen(int fd, int backlog, uv_connection_cb cb) {
    int rc = uv_tcp_open(&tcp_, fd);
    if (rc == 0)
        rc = uv_listen(reinterpret_cast<uv_stream_t *>(&tcp_), backlog, cb);
    return rc;
}

int Listener::listen(const config::SocketAddress &addr, int backlog, uv_connection_cb cb) {
    sockaddr_storage ss{};
    int rc = addr.ipv6
                 ? uv_ip6_addr(addr.host.c_str(), addr.port, reinterpret_cast<sockaddr_in6 *>(&ss))
                 : uv_ip4_addr(addr.host.c_str(), addr.port, reinterpret_cast<sockaddr_in *>(&ss));
    if (rc == 0)
        rc = uv_tcp_bind(&tcp_, reinterpret_cast<sockaddr *>(&ss), 0);
    if (rc == 0)
        rc = uv_listen(reinterpret_cast<uv_stream_t *>(&tcp_), backlog, cb);
    return rc;
}

std::uint16_t Listener::port() const {
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr *>(&bound), &len);
    return portOf(bound);
}

void Listener::close() {
    if (open_) {
        open_ = false;
        uv_close(reinterpret_cast<uv_handle_t *>(&tcp_), nullptr);
    }
}

} // namespace fc::io
