#include <doctest/doctest.h>

#include "config/units.h"

using namespace fc::config;

TEST_CASE("durations") {
    CHECK(parseDuration("250ms").value() == Millis(250));
    CHECK(parseDuration("30s").value() == Millis(30000));
    CHECK(parseDuration("30").value() == Millis(30000));
    CHECK(parseDuration("1.5s").value() == Millis(1500));
    CHECK(parseDuration("5m").value() == Millis(300000));
    CHECK(parseDuration("1h").value() == Millis(3600000));
    CHECK(parseDuration("2d").value() == Millis(2 * 86400000LL));
    CHECK(parseDuration("0s").value() == Millis(0));
    CHECK_FALSE(parseDuration("-1s"));
    CHECK_FALSE(parseDuration("s"));
    CHECK_FALSE(parseDuration(""));
    CHECK_FALSE(parseDuration("10 parsecs"));
    CHECK_FALSE(parseDuration("99999999999999999999s"));
    CHECK(parseDuration("5x").error().find("unknown duration unit") != std::string::npos);
}

TEST_CASE("sizes") {
    CHECK(parseSize("512").value() == 512);
    CHECK(parseSize("16KiB").value() == 16 * 1024);
    CHECK(parseSize("64MiB").value() == 64ull << 20);
    CHECK(parseSize("1GiB").value() == 1ull << 30);
    CHECK(parseSize("1MB").value() == 1000000);
    CHECK(parseSize("1.5KiB").value() == 1536);
    CHECK_FALSE(parseSize("-1"));
    CHECK_FALSE(parseSize("1.5"));
    CHECK_FALSE(parseSize("12 furlongs"));
    CHECK_FALSE(parseSize("99999999999GiB"));
}
