// http/date: HTTP dates (RFC 9110 §5.6.7), written in IMF-fixdate and read in all three forms.
#include <doctest/doctest.h>

#include <string>

#include "http/date.h"

using namespace fc::http;

TEST_CASE("HTTP dates: format and the three parse forms") {
    char buf[kHttpDateLen];
    formatHttpDate(784111777, buf);
    CHECK(std::string(buf, sizeof buf) == "Sun, 06 Nov 1994 08:49:37 GMT");
    formatHttpDate(0, buf);
    CHECK(std::string(buf, sizeof buf) == "Thu, 01 Jan 1970 00:00:00 GMT");
    formatHttpDate(1709251200, buf); // leap day
    CHECK(std::string(buf, sizeof buf) == "Fri, 01 Mar 2024 00:00:00 GMT");
    CHECK(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(parseHttpDate("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK_FALSE(parseHttpDate("yesterday"));
    CHECK_FALSE(parseHttpDate("Sun, 06 Nov 1994 08:49:37 UTC"));
    CHECK_FALSE(parseHttpDate("Sun, 32 Nov 1994 08:49:37 GMT"));
    CHECK_FALSE(parseHttpDate("Sun, 06 Xyz 1994 08:49:37 GMT"));
    for (std::int64_t t : {0LL, 951782400LL, 1700000000LL, 4102444800LL}) {
        formatHttpDate(t, buf);
        CHECK(parseHttpDate(std::string_view(buf, sizeof buf)) == t);
    }
}
