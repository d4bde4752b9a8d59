#include "http/proxy_protocol.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string_view>

#include "http/forwarded.h"

namespace fc::http {

namespace {
constexpr std::string_view kV1 = "PROXY ";
constexpr std::string_view kV2{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t kV1Max = 107; // the longest v1 line, CRLF included (the spec's bound)
constexpr std::uint8_t kTypeSsl = 0x20;
constexpr std::uint8_t kClientSsl = 0x01;

bool isPrefixOf(std::string_view have, std::string_view sig) {
    std::size_t n = std::min(have.size(), sig.size());
    return have.substr(0, n) == sig.substr(0, n);
}

bool parsePort(std::string_view s, std::uint16_t &out) {
    unsigned v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || s.size() > 5 || r.ec != std::errc() || r.ptr != s.data() + s.size() ||
        v > 65535 || (s.size() > 1 && s[0] == '0'))
        return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

} // namespace

ProxyHeaderParser::Status ProxyHeaderParser::fail(const char *why) {
    error_ = why;
    status_ = Status::Error;
    return status_;
}

ProxyHeaderParser::Status ProxyHeaderParser::feed(const char *data, std::size_t len,
                                                  std::size_t &consumed) {
    consumed = 0;
    if (status_ != Status::NeedMore)
        return status_;
    const std::size_t before = buf_.size();
    buf_.append(data, len);
    std::string_view b = buf_;
    if (!isPrefixOf(b, kV1) && !isPrefixOf(b, kV2))
        return fail("the connection did not start with a PROXY protocol header");
    Status s = Status::NeedMore;
    std::size_t headerLen = 0;
    if (isPrefixOf(b, kV1) && b.size() >= kV1.size()) {
        std::size_t crlf = b.find("\r\n");
        if (crlf == std::string_view::npos) {
            if (b.size() >= kV1Max)
                return fail("PROXY v1 header longer than 107 bytes");
            return Status::NeedMore;
        }
        if (crlf + 2 > kV1Max)
            return fail("PROXY v1 header longer than 107 bytes");
        s = parseV1(crlf);
        headerLen = crlf + 2;
    } else if (b.size() >= 16 && isPrefixOf(b, kV2)) {
        const std::size_t n =
            (static_cast<std::uint8_t>(b[14]) << 8) | static_cast<std::uint8_t>(b[15]);
        if (n > kMaxV2Length)
            return fail("PROXY v2 header too long");
        if (b.size() < 16 + n)
            return Status::NeedMore;
        headerLen = 16 + n;
        s = parseV2();
    } else {
        return Status::NeedMore;
    }
    if (s != Status::Done)
        return s;
    status_ = Status::Done;
    consumed = headerLen - before;
    std::string().swap(buf_);
    return status_;
}

// "PROXY TCP4 SRC DST SPORT DPORT" | "PROXY TCP6 ..." | "PROXY UNKNOWN[ anything]"
ProxyHeaderParser::Status ProxyHeaderParser::parseV1(std::size_t end) {
    result_.version = 1;
    std::string_view line = std::string_view(buf_).substr(kV1.size(), end - kV1.size());
    std::string_view parts[6];
    std::size_t n = 0;
    while (!line.empty() && n < 6) {
        std::size_t sp = line.find(' ');
        parts[n++] = line.substr(0, sp);
        if (sp == std::string_view::npos)
            line = {};
        else
            line.remove_prefix(sp + 1);
    }
    if (n >= 1 && parts[0] == "UNKNOWN")
        return Status::Done; // the connection's own address stands
    if (n != 5 || !line.empty())
        return fail("malformed PROXY v1 header");
    int family = parts[0] == "TCP4" ? AF_INET : parts[0] == "TCP6" ? AF_INET6 : 0;
    std::uint16_t dport = 0;
    if (family == 0 || !isAddressLiteral(parts[1], family) || !isAddressLiteral(parts[2], family) ||
        !parsePort(parts[3], result_.sourcePort) || !parsePort(parts[4], dport))
        return fail("malformed PROXY v1 header");
    result_.hasAddress = true;
    result_.source.assign(parts[1]);
    return Status::Done;
}

ProxyHeaderParser::Status ProxyHeaderParser::parseV2() {
    result_.version = 2;
    const auto *p = reinterpret_cast<const std::uint8_t *>(buf_.data());
    const std::size_t n = (p[14] << 8) | p[15];
    if ((p[12] >> 4) != 2)
        return fail("unsupported PROXY v2 version");
    const unsigned command = p[12] & 0x0f;
    if (command > 1)
        return fail("unsupported PROXY v2 command");
    const unsigned family = p[13] >> 4, transport = p[13] & 0x0f;
    std::size_t addrLen = 0;
    if (family == 1)
        addrLen = 12;
    else if (family == 2)
        addrLen = 36;
    else if (family == 3)
        addrLen = 216;
    if (family > 3 || transport > 2)
        return fail("unsupported PROXY v2 address family");
    if (n < addrLen)
        return fail("PROXY v2 address block shorter than its family needs");
    const std::uint8_t *a = p + 16;
    if (command == 1 && (family == 1 || family == 2) && transport != 0) {
        char text[INET6_ADDRSTRLEN];
        if (!inet_ntop(family == 1 ? AF_INET : AF_INET6, a, text, sizeof text))
            return fail("malformed PROXY v2 address");
        result_.hasAddress = true;
        result_.source = text;
        const std::uint8_t *ports = a + (family == 1 ? 8 : 32);
        result_.sourcePort = static_cast<std::uint16_t>((ports[0] << 8) | ports[1]);
    }
    // TLVs: type (1), length (2), value.
    std::size_t i = addrLen;
    while (i < n) {
        if (n - i < 3)
            return fail("truncated PROXY v2 TLV");
        const std::uint8_t type = a[i];
        const std::size_t len = (a[i + 1] << 8) | a[i + 2];
        if (n - i - 3 < len)
            return fail("truncated PROXY v2 TLV");
        if (type == kTypeSsl && len >= 5 && command == 1)
            result_.ssl = (a[i + 3] & kClientSsl) != 0;
        i += 3 + len;
    }
    return Status::Done;
}

} // namespace fc::http
