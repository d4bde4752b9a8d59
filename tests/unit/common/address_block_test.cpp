#include <doctest/doctest.h>

#include "common/address_block.h"

using fc::AddressBlock;

TEST_CASE("address blocks: single addresses and CIDR, IPv4 and IPv6") {
    auto one = AddressBlock::parse("127.0.0.1");
    REQUIRE(one);
    CHECK(one->prefix == 32);
    CHECK(one->contains("127.0.0.1"));
    CHECK_FALSE(one->contains("127.0.0.2"));
    auto net = AddressBlock::parse("10.0.0.0/8");
    REQUIRE(net);
    CHECK(net->contains("10.255.1.2"));
    CHECK_FALSE(net->contains("11.0.0.1"));
    auto odd = AddressBlock::parse("192.168.1.77/26"); // host bits ignored
    REQUIRE(odd);
    CHECK(odd->contains("192.168.1.64"));
    CHECK(odd->contains("192.168.1.127"));
    CHECK_FALSE(odd->contains("192.168.1.128"));
    auto v6 = AddressBlock::parse("2001:db8::/32");
    REQUIRE(v6);
    CHECK(v6->contains("2001:db8:1::5"));
    CHECK_FALSE(v6->contains("2001:db9::1"));
    CHECK_FALSE(v6->contains("10.0.0.1")); // families do not mix
    auto lo6 = AddressBlock::parse("::1");
    REQUIRE(lo6);
    CHECK(lo6->contains("::1"));
    CHECK_FALSE(lo6->contains("127.0.0.1"));
    // An IPv4-mapped IPv6 address is its IPv4 address.
    CHECK(net->contains("::ffff:10.1.2.3"));
    auto all = AddressBlock::parse("0.0.0.0/0");
    REQUIRE(all);
    CHECK(all->contains("203.0.113.9"));
}

TEST_CASE("malformed address blocks are refused") {
    for (const char *bad : {"", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/x",
                            "localhost", "10.0.0.0/8/8", "1.2.3.4 ", "/8"})
        CHECK_FALSE(AddressBlock::parse(bad));
    auto b = AddressBlock::parse("10.0.0.0/8");
    CHECK_FALSE(b->contains("not an address"));
    CHECK_FALSE(b->contains(""));
}
