#include "admin/admin_server.h"

#include <arpa/inet.h>

#include <vector>

#include "admin/connection.h"

namespace fc::admin {

bool AdminServer::listen(const config::SocketAddress &addr, std::string &error,
                         std::uint16_t &boundPort) {
    if (int rc = uv_tcp_init(loop_, &listener_); rc < 0) {
        error = std::string("cannot create the admin.listen socket: ") + uv_strerror(rc);
        return false;
    }
    listener_.data = this;
    listening_ = true;
    sockaddr_storage ss{};
    int rc = addr.ipv6
                 ? uv_ip6_addr(addr.host.c_str(), addr.port, reinterpret_cast<sockaddr_in6 *>(&ss))
                 : uv_ip4_addr(addr.host.c_str(), addr.port, reinterpret_cast<sockaddr_in *>(&ss));
    if (rc == 0)
        rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr *>(&ss), 0);
    if (rc == 0)
        rc = uv_listen(reinterpret_cast<uv_stream_t *>(&listener_), 128, &onConnection);
    if (rc != 0) {
        error = "cannot listen on " + addr.text() + " (admin.listen): " + uv_strerror(rc);
        return false;
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr *>(&bound), &len);
    boundPort =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
    config::SocketAddress shown = addr;
    shown.port = boundPort;
    ctx_.selfAddress = shown.text();
    return true;
}

void AdminServer::onConnection(uv_stream_t *s, int status) noexcept {
    auto *server = static_cast<AdminServer *>(s->data);
    if (status < 0)
        return;
    auto *c = new AdminConnection(*server);
    server->conns_.insert(c);
    c->accept(server->loop_, s);
}

void AdminServer::forget(AdminConnection *c) {
    conns_.erase(c);
}

void AdminServer::close() {
    if (listening_) {
        listening_ = false;
        uv_close(reinterpret_cast<uv_handle_t *>(&listener_), nullptr);
    }
    top_.close();
    std::vector<AdminConnection *> all(conns_.begin(), conns_.end());
    for (auto *c : all)
        c->close();
}

} // namespace fc::admin
