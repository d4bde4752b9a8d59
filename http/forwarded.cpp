#include "http/forwarded.h"

#include <arpa/inet.h>

#include <cstring>

namespace fc::http {

bool isAddressLiteral(std::string_view s, int family) {
    char buf[64];
    unsigned char bin[16];
    if (s.empty() || s.size() >= sizeof buf)
        return false;
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    return (family != AF_INET6 && inet_pton(AF_INET, buf, bin) == 1) ||
           (family != AF_INET && inet_pton(AF_INET6, buf, bin) == 1);
}

std::string_view forwardedProto(const HeaderList &req) {
    if (auto xfp = req.get("x-forwarded-proto")) {
        std::string_view v = *xfp;
        return trimOws(v.substr(0, v.find(',')));
    }
    auto fwd = req.get("forwarded");
    if (!fwd)
        return {};
    // The first element (up to ','), its pairs separated by ';': proto=https or proto="https".
    std::string_view element = fwd->substr(0, fwd->find(','));
    while (!element.empty()) {
        std::size_t semi = element.find(';');
        std::string_view pair = trimOws(element.substr(0, semi));
        std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos &&
            equalsIgnoreCase(trimOws(pair.substr(0, eq)), "proto")) {
            std::string_view v = trimOws(pair.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
                v = v.substr(1, v.size() - 2);
            return v;
        }
        if (semi == std::string_view::npos)
            break;
        element.remove_prefix(semi + 1);
    }
    return {};
}

} // namespace fc::http
