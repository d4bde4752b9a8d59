#include "admin/request_parse.h"

#include <cctype>

#include "http/headers.h"

namespace fc::admin {

std::string percentDecode(std::string_view s) {
    auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i] == '+' ? ' ' : s[i]);
        }
    }
    return out;
}

bool bearerMatches(std::optional<std::string_view> authorization, std::string_view token) {
    if (!authorization)
        return false;
    std::string_view v = http::trimOws(*authorization);
    constexpr std::string_view kBearer = "Bearer ";
    if (v.size() != kBearer.size() + token.size() ||
        !http::equalsIgnoreCase(v.substr(0, kBearer.size()), kBearer))
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < token.size(); ++i)
        diff |= static_cast<unsigned char>(v[kBearer.size() + i] ^ token[i]);
    return diff == 0;
}

std::string purgePath(std::string_view target, bool &soft) {
    std::string p(target);
    for (;;) {
        std::size_t sep = p.find_last_of("?&");
        if (sep == std::string::npos)
            break;
        std::string_view param = std::string_view(p).substr(sep + 1);
        if (param == "soft=1")
            soft = true;
        else if (!param.starts_with("host="))
            break;
        p.erase(sep);
    }
    return p;
}

bool softRequested(std::string_view query) {
    return query == "soft=1" || query.starts_with("soft=1&") ||
           query.find("&soft=1") != std::string_view::npos;
}

namespace {

// A JSON array of strings from body[pos] (just past the '[').
bool parseJsonPaths(std::string_view body, std::size_t pos, std::vector<std::string> &out) {
    for (;;) {
        pos = body.find_first_not_of(" \t\r\n,", pos);
        if (pos == std::string_view::npos)
            return false;
        if (body[pos] == ']')
            return true;
        if (body[pos] != '"')
            return false;
        std::string s;
        for (++pos; pos < body.size() && body[pos] != '"'; ++pos) {
            if (body[pos] == '\\' && pos + 1 < body.size())
                ++pos;
            s.push_back(body[pos]);
        }
        if (pos >= body.size())
            return false;
        out.push_back(std::move(s));
        ++pos;
    }
}

} // namespace

bool parsePathList(std::string_view body, std::vector<std::string> &out) {
    std::size_t i = body.find_first_not_of(" \t\r\n");
    if (i != std::string_view::npos && body[i] == '[')
        return parseJsonPaths(body, i + 1, out);
    while (!body.empty()) {
        std::size_t nl = body.find('\n');
        std::string_view line = http::trimOws(body.substr(0, nl));
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (!line.empty())
            out.emplace_back(line);
        if (nl == std::string_view::npos)
            break;
        body.remove_prefix(nl + 1);
    }
    return !out.empty();
}

} // namespace fc::admin
