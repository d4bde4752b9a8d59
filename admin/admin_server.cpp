#include "admin/admin_server.h"

#include <vector>

#include "admin/connection.h"

namespace fc::admin {

bool AdminServer::listen(const config::SocketAddress &addr, std::string &error,
                         std::uint16_t &boundPort) {
    if (int rc = listener_.init(loop_, this); rc < 0) {
        error = std::string("cannot create the admin.listen socket: ") + uv_strerror(rc);
        return false;
    }
    if (int rc = listener_.listen(addr, 128, &onConnection); rc != 0) {
        error = "cannot listen on " + addr.text() + " (admin.listen): " + uv_strerror(rc);
        return false;
    }
    boundPort = listener_.port();
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
    listener_.close();
    top_.close();
    std::vector<AdminConnection *> all(conns_.begin(), conns_.end());
    for (auto *c : all)
        c->close();
}

} // namespace fc::admin
