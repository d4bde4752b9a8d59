#include <doctest/doctest.h>

#include <random>
#include <string>

#include "cache/page/compress.h"
#include "cache/page/page.h"

using namespace fc::cache;
using fc::http::Coding;

namespace {
std::string html(std::size_t n) {
    std::string s;
    std::mt19937 rng(7);
    const char *words[] = {
        "<div class=\"row\">", "frontcache", "</div>\n", "<p>", "the page ", "</p>",
        "<a href=\"/x\">",     "link",       "</a>"};
    while (s.size() < n)
        s += words[rng() % 9];
    s.resize(n);
    return s;
}
} // namespace

TEST_CASE("each coding round-trips, and is smaller for HTML") {
    const std::string body = html(30000);
    for (Coding c : {Coding::Gzip, Coding::Br, Coding::Zstd}) {
        CAPTURE(codingName(c));
        std::string coded, back;
        REQUIRE(encodeBody(c, body, coded));
        CHECK(coded.size() < body.size() / 3);
        REQUIRE(decodeBody(c, coded, body.size(), back));
        CHECK(back == body);
    }
    std::string none;
    CHECK_FALSE(encodeBody(Coding::Identity, body, none));
}

TEST_CASE("decoding refuses truncated, corrupt, trailing and oversized input") {
    const std::string body = html(20000);
    for (Coding c : {Coding::Gzip, Coding::Br, Coding::Zstd}) {
        CAPTURE(codingName(c));
        std::string coded, out;
        REQUIRE(encodeBody(c, body, coded));
        // Cut at several points: never accepted as whole.
        for (std::size_t cut : {std::size_t(0), std::size_t(1), coded.size() / 2, coded.size() - 1})
            CHECK_FALSE(decodeBody(c, std::string_view(coded).substr(0, cut), 1 << 20, out));
        CHECK_FALSE(decodeBody(c, coded + "junk", 1 << 20, out));
        std::string bad = coded;
        bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);
        bad[bad.size() / 2 + 1] = static_cast<char>(bad[bad.size() / 2 + 1] ^ 0x55);
        std::string garbled;
        CHECK_FALSE((decodeBody(c, bad, 1 << 20, garbled) && garbled == body));
        // A bomb: more than maxOut when decoded.
        CHECK_FALSE(decodeBody(c, coded, body.size() - 1, out));
        CHECK(decodeBody(c, coded, body.size(), out));
    }
}

TEST_CASE("deflate is read in the zlib format and raw") {
    std::string gz;
    REQUIRE(encodeBody(Coding::Gzip, "hello deflate", gz));
    // gzip = 10-byte header + raw deflate + 8-byte trailer.
    std::string raw = gz.substr(10, gz.size() - 18), out;
    REQUIRE(decodeBody(Coding::Deflate, raw, 100, out));
    CHECK(out == "hello deflate");
}

TEST_CASE("compressible media types: globs, case and parameters") {
    CompressConfig cfg;
    CHECK(compressibleType("text/html; charset=utf-8", cfg.types));
    CHECK(compressibleType("Text/CSS", cfg.types));
    CHECK(compressibleType("application/json", cfg.types));
    CHECK(compressibleType("image/svg+xml", cfg.types));
    CHECK_FALSE(compressibleType("image/png", cfg.types));
    CHECK_FALSE(compressibleType("application/octet-stream", cfg.types));
    CHECK_FALSE(compressibleType(std::nullopt, cfg.types));
    CHECK_FALSE(compressibleType("", cfg.types));
}

TEST_CASE("a representation's head: coding, length, weak ETag, Vary") {
    const std::string base = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"v1\"\r\n"
                             "Vary: Cookie\r\nContent-Length: 1000\r\n";
    std::string out;
    representationHead(base, Coding::Br, true, 321, out);
    CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nVary: Cookie\r\n"
                 "Vary: Accept-Encoding\r\nContent-Encoding: br\r\nETag: W/\"v1\"\r\n"
                 "Content-Length: 321\r\n");
    // The origin's own representation: its ETag stays strong, Vary gains Accept-Encoding.
    representationHead(base, Coding::Identity, false, 1000, out);
    CHECK(out.find("ETag: \"v1\"\r\n") != std::string::npos);
    CHECK(out.find("Content-Encoding") == std::string::npos);
    CHECK(out.find("Vary: Accept-Encoding\r\n") != std::string::npos);
    // Decoded from the origin's gzip: Content-Encoding removed; a weak ETag stays weak; Vary
    // already listing it is not repeated.
    const std::string gz = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nETag: W/\"x\"\r\n"
                           "Vary: Accept-Encoding, Cookie\r\nContent-Length: 50\r\n";
    representationHead(gz, Coding::Identity, true, 400, out);
    CHECK(out == "HTTP/1.1 200 OK\r\nVary: Accept-Encoding, Cookie\r\nETag: W/\"x\"\r\n"
                 "Content-Length: 400\r\n");
    // A HEAD page's head without Content-Length gets none.
    representationHead("HTTP/1.1 200 OK\r\nVary: accept-encoding\r\n", Coding::Gzip, true, 9, out);
    CHECK(out == "HTTP/1.1 200 OK\r\nVary: accept-encoding\r\nContent-Encoding: gzip\r\n");
}

TEST_CASE("transformBody: codings for identity, identity for codings, only when smaller") {
    CompressConfig cfg; // br, gzip
    TransformPlan plan;
    plan.compress = true;
    const std::string body = html(5000);
    auto reps = transformBody(plan, cfg, body);
    REQUIRE(reps.size() == 3);
    CHECK(reps[0].coding == Coding::Identity);
    CHECK_FALSE(reps[0].transformed);
    CHECK(reps[0].body == body);
    CHECK(reps[1].coding == Coding::Br);
    CHECK(reps[2].coding == Coding::Gzip);
    CHECK(reps[1].transformed);
    // Random bytes do not compress: no coding is kept.
    std::string noise(4000, '\0');
    std::mt19937 rng(3);
    for (char &c : noise)
        c = static_cast<char>(rng());
    CHECK(transformBody(plan, cfg, noise).size() == 1);
    // An origin's gzip gets its identity form.
    std::string gz;
    REQUIRE(encodeBody(Coding::Gzip, body, gz));
    TransformPlan dec;
    dec.source = Coding::Gzip;
    dec.decode = true;
    reps = transformBody(dec, cfg, gz);
    REQUIRE(reps.size() == 2);
    CHECK(reps[0].coding == Coding::Gzip);
    CHECK(reps[1].coding == Coding::Identity);
    CHECK(reps[1].body == body);
    // ... but not beyond maxOut, and not from a corrupt body.
    dec.maxOut = 100;
    CHECK(transformBody(dec, cfg, gz).size() == 1);
    dec.maxOut = 1 << 20;
    CHECK(transformBody(dec, cfg, gz.substr(0, gz.size() / 2)).size() == 1);
}

TEST_CASE("the page format keeps every representation, and FCP2 pages are still read") {
    PageView f;
    f.status = 200;
    f.storedAt = 5;
    f.ttl = 60;
    f.etag = "\"e\"";
    f.uri = "http://h/p";
    f.repCount = 3;
    f.reps[0] = {Coding::Identity, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n", "hello world"};
    f.reps[1] = {Coding::Br, "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n", "BR"};
    f.reps[2] = {Coding::Gzip, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", "GZIP!"};
    std::string buf(encodedPageSize(f), '\0');
    encodePage(buf.data(), f);
    CHECK(buf.substr(0, 4) == "FCP3");
    PageView v;
    REQUIRE(decodePage(buf, v));
    REQUIRE(v.repCount == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(v.reps[i].coding == f.reps[i].coding);
        CHECK(v.reps[i].head == f.reps[i].head);
        CHECK(v.reps[i].body == f.reps[i].body);
    }
    CHECK(v.head == f.reps[0].head);
    CHECK(v.body == "hello world");
    // Every truncation, and a byte too many, is refused.
    for (std::size_t cut = 0; cut < buf.size(); ++cut)
        CHECK_FALSE(decodePage(std::string_view(buf).substr(0, cut), v));
    CHECK_FALSE(decodePage(buf + "x", v));
    // A format-2 page: one representation sent as stored.
    std::string v2 = buf;
    v2.replace(0, 4, "FCP2");
    std::string old(44, '\0'); // the FCP2 header was 44 bytes
    old.replace(0, 4, "FCP2");
    old[28] = 4; // head length 4
    old += "HEADbody";
    REQUIRE(decodePage(old, v));
    CHECK(v.repCount == 1);
    CHECK(v.reps[0].coding == Coding::AsStored);
    CHECK(v.head == "HEAD");
    CHECK(v.body == "body");
}

TEST_CASE("chooseRepresentation: the best the client accepts, identity when nothing is") {
    PageView p;
    p.repCount = 3;
    p.reps[0] = {Coding::Identity, "h", std::string_view("0123456789")};
    p.reps[1] = {Coding::Br, "h", std::string_view("012")};
    p.reps[2] = {Coding::Gzip, "h", std::string_view("01234")};
    CHECK(chooseRepresentation(p, "gzip, deflate, br, zstd") == 1); // smaller on a tie
    CHECK(chooseRepresentation(p, "gzip, deflate") == 2);
    CHECK(chooseRepresentation(p, std::nullopt) == 0);
    CHECK(chooseRepresentation(p, "") == 0);
    CHECK(chooseRepresentation(p, "br;q=0.5, gzip") == 2);     // q beats size
    CHECK(chooseRepresentation(p, "gzip;q=0.5") == 0);         // identity is implicitly 1
    CHECK(chooseRepresentation(p, "zstd, identity;q=0") == 0); // nothing acceptable: identity
    CHECK(chooseRepresentation(p, "*") == 1);
    // An app-gzipped page with its identity form.
    PageView g;
    g.repCount = 2;
    g.reps[0] = {Coding::Gzip, "h", std::string_view("01")};
    g.reps[1] = {Coding::Identity, "h", std::string_view("0123456")};
    CHECK(chooseRepresentation(g, "br") == 1);
    CHECK(chooseRepresentation(g, "gzip, br") == 0);
    // One representation: sent as stored.
    PageView one;
    one.repCount = 1;
    one.reps[0] = {Coding::AsStored, "h", "b"};
    CHECK(chooseRepresentation(one, "br") == 0);
}
