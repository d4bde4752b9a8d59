#include "common/address_block.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

namespace fc {

namespace {
// Parses a bare address into 16 bytes; `v6` says which family. IPv4-mapped IPv6 becomes IPv4.
bool parseAddress(std::string_view text, bool &v6, std::uint8_t out[16]) {
    char buf[64];
    if (text.empty() || text.size() >= sizeof buf)
        return false;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    std::memset(out, 0, 16);
    if (inet_pton(AF_INET, buf, out) == 1) {
        v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out) != 1)
        return false;
    static const std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out, kMapped, 12) == 0) {
        std::memmove(out, out + 12, 4);
        std::memset(out + 4, 0, 12);
        v6 = false;
        return true;
    }
    v6 = true;
    return true;
}

bool prefixMatches(const std::uint8_t *a, const std::uint8_t *b, unsigned bits) {
    unsigned full = bits / 8;
    if (std::memcmp(a, b, full) != 0)
        return false;
    unsigned rest = bits % 8;
    if (rest == 0)
        return true;
    std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}
} // namespace

std::optional<AddressBlock> AddressBlock::parse(std::string_view text) {
    AddressBlock b;
    std::string_view addr = text;
    std::optional<unsigned> prefix;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        std::string_view p = text.substr(slash + 1);
        unsigned n = 0;
        auto r = std::from_chars(p.data(), p.data() + p.size(), n);
        if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size())
            return std::nullopt;
        prefix = n;
    }
    if (!parseAddress(addr, b.v6, b.addr))
        return std::nullopt;
    const unsigned max = b.v6 ? 128 : 32;
    b.prefix = prefix.value_or(max);
    if (b.prefix > max)
        return std::nullopt;
    return b;
}

bool AddressBlock::contains(std::string_view ip) const {
    bool ipV6 = false;
    std::uint8_t a[16];
    if (!parseAddress(ip, ipV6, a) || ipV6 != v6)
        return false;
    return prefixMatches(a, addr, prefix);
}

bool inAnyBlock(const std::vector<AddressBlock> &blocks, std::string_view ip) {
    for (const auto &b : blocks)
        if (b.contains(ip))
            return true;
    return false;
}

} // namespace fc
