// An address block: an IPv4 or IPv6 address with a prefix length ("10.0.0.0/8", "::1",
// "2001:db8::/32"), and whether an address falls in it. Used for server.trusted_proxies.
//
// Pure; safe from any thread. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 blocks.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace fc {

struct AddressBlock {
    bool v6 = false;
    std::uint8_t addr[16] = {}; // network order; the first 4 bytes for IPv4
    unsigned prefix = 0;        // bits that must match

    // "a.b.c.d", "a.b.c.d/n" (n <= 32), an IPv6 literal, "x::y/n" (n <= 128). Host bits beyond
    // the prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8). nullopt when malformed.
    static std::optional<AddressBlock> parse(std::string_view text);
    // Does the textual address `ip` (as inet_ntop writes it) fall in this block?
    bool contains(std::string_view ip) const;
};

// Does `ip` fall in any of `blocks`?
bool inAnyBlock(const std::vector<AddressBlock> &blocks, std::string_view ip);

} // namespace fc
