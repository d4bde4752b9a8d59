#include <doctest/doctest.h>

#include "http/coding.h"

using namespace fc::http;

namespace {
int acceptQuality(std::optional<std::string_view> ae, Coding c) {
    return AcceptedCodings(ae).quality(c);
}
} // namespace

TEST_CASE("Content-Encoding names the coding frontcache can undo, or nothing") {
    CHECK(parseContentCoding(std::nullopt) == Coding::Identity);
    CHECK(parseContentCoding("") == Coding::Identity);
    CHECK(parseContentCoding(" identity ") == Coding::Identity);
    CHECK(parseContentCoding("gzip") == Coding::Gzip);
    CHECK(parseContentCoding("X-GZIP") == Coding::Gzip); // RFC 9110 §8.4.1.3
    CHECK(parseContentCoding("br") == Coding::Br);
    CHECK(parseContentCoding("zstd") == Coding::Zstd);
    CHECK(parseContentCoding("deflate") == Coding::Deflate);
    CHECK_FALSE(parseContentCoding("compress"));
    CHECK_FALSE(parseContentCoding("gzip, br")); // two codings in a row
    CHECK_FALSE(parseContentCoding("aes128gcm"));
}

TEST_CASE("Accept-Encoding q-values per RFC 9110 §12.5.3") {
    // What browsers send.
    const char *chrome = "gzip, deflate, br, zstd";
    CHECK(acceptQuality(chrome, Coding::Br) == 1000);
    CHECK(acceptQuality(chrome, Coding::Zstd) == 1000);
    CHECK(acceptQuality(chrome, Coding::Gzip) == 1000);
    CHECK(acceptQuality(chrome, Coding::Identity) == 1000); // not listed, not refused
    CHECK(acceptQuality("gzip", Coding::Br) == 0);
    // No field: identity only (curl); an empty field: identity only.
    CHECK(acceptQuality(std::nullopt, Coding::Identity) == 1000);
    CHECK(acceptQuality(std::nullopt, Coding::Gzip) == 0);
    CHECK(acceptQuality("", Coding::Identity) == 1000);
    CHECK(acceptQuality("", Coding::Gzip) == 0);
    // q-values, case, spaces, x-gzip.
    CHECK(acceptQuality("gzip;q=0.5, br;q=0.8", Coding::Gzip) == 500);
    CHECK(acceptQuality("gzip;q=0.5, br;q=0.8", Coding::Br) == 800);
    CHECK(acceptQuality("GZIP ; Q=0.25", Coding::Gzip) == 250);
    CHECK(acceptQuality("x-gzip", Coding::Gzip) == 1000);
    CHECK(acceptQuality("br;q=0", Coding::Br) == 0);
    CHECK(acceptQuality("br;q=1.000", Coding::Br) == 1000);
    CHECK(acceptQuality("br;q=0.001", Coding::Br) == 1);
    // Invalid q: counts as 0 for the coding it names.
    CHECK(acceptQuality("br;q=2", Coding::Br) == 0);
    CHECK(acceptQuality("br;q=0.5555", Coding::Br) == 0);
    CHECK(acceptQuality("br;q=abc", Coding::Br) == 0);
    // '*' covers what is not listed, identity included.
    CHECK(acceptQuality("*", Coding::Zstd) == 1000);
    CHECK(acceptQuality("gzip, *;q=0.1", Coding::Br) == 100);
    CHECK(acceptQuality("gzip, *;q=0", Coding::Identity) == 0);
    CHECK(acceptQuality("identity, *;q=0", Coding::Identity) == 1000);
    CHECK(acceptQuality("identity;q=0", Coding::Identity) == 0);
    CHECK(acceptQuality("identity;q=0, *", Coding::Identity) == 0); // the named member wins
    // The first listing of a coding counts.
    CHECK(acceptQuality("br;q=0.2, br", Coding::Br) == 200);
    // Empty members are skipped.
    CHECK(acceptQuality(" , ,br", Coding::Br) == 1000);
}
