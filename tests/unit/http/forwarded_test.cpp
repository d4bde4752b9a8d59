#include <doctest/doctest.h>

#include <set>
#include <string>

#include "http/forwarded.h"
#include "http/rewrite.h"

using namespace fc::http;

namespace {
HeaderList headers(std::initializer_list<std::pair<const char *, const char *>> h) {
    HeaderList l;
    for (auto &[n, v] : h)
        l.add(n, v);
    return l;
}
// The trusted set of these tests: the load balancer 10.0.0.1 and the internal 10.0.0.2.
bool trusted(std::string_view a) {
    return a == "10.0.0.1" || a == "10.0.0.2";
}
} // namespace

TEST_CASE("the client address: nginx real_ip_recursive") {
    // Untrusted peer: its X-Forwarded-For is not believed.
    CHECK(realClientAddress("203.0.113.5", headers({{"X-Forwarded-For", "1.2.3.4"}}), trusted) ==
          "203.0.113.5");
    // Trusted peer: the right-most address that is not trusted.
    CHECK(realClientAddress("10.0.0.1", headers({{"X-Forwarded-For", "1.2.3.4, 198.51.100.7"}}),
                            trusted) == "198.51.100.7");
    CHECK(realClientAddress("10.0.0.1",
                            headers({{"X-Forwarded-For", "1.2.3.4, 198.51.100.7, 10.0.0.2"}}),
                            trusted) == "198.51.100.7");
    // Every address trusted: the left-most.
    CHECK(realClientAddress("10.0.0.1", headers({{"X-Forwarded-For", "10.0.0.2"}}), trusted) ==
          "10.0.0.2");
    // No header: the peer.
    CHECK(realClientAddress("10.0.0.1", headers({}), trusted) == "10.0.0.1");
    // A garbage entry ends the walk: the last address accepted stands.
    CHECK(realClientAddress("10.0.0.1", headers({{"X-Forwarded-For", "1.2.3.4, junk, 10.0.0.2"}}),
                            trusted) == "10.0.0.2");
    CHECK(realClientAddress("10.0.0.1", headers({{"X-Forwarded-For", "1.2.3.4, junk"}}), trusted) ==
          "10.0.0.1");
    // IPv6, bracketed or not.
    CHECK(realClientAddress("10.0.0.1", headers({{"X-Forwarded-For", "[2001:db8::1]"}}), trusted) ==
          "2001:db8::1");
    CHECK(realClientAddress("10.0.0.1", headers({{"X-Forwarded-For", "2001:db8::2 "}}), trusted) ==
          "2001:db8::2");
}

TEST_CASE("the scheme a trusted proxy reports") {
    CHECK(forwardedProto(headers({{"X-Forwarded-Proto", "https"}})) == "https");
    CHECK(forwardedProto(headers({{"X-Forwarded-Proto", " https , http"}})) == "https");
    CHECK(forwardedProto(headers({{"Forwarded", "for=1.2.3.4;proto=https;by=x"}})) == "https");
    CHECK(forwardedProto(headers({{"Forwarded", "for=1.2.3.4; Proto=\"http\", proto=https"}})) ==
          "http");
    CHECK(forwardedProto(headers({{"X-Forwarded-Proto", "http"}, {"Forwarded", "proto=https"}})) ==
          "http"); // X-Forwarded-Proto first (what Django reads)
    CHECK(forwardedProto(headers({{"Forwarded", "for=1.2.3.4"}})).empty());
    CHECK(forwardedProto(headers({})).empty());
}

TEST_CASE("a proxy's claims pass only from a trusted peer; X-Forwarded-Proto is the key's scheme") {
    RequestHead req;
    req.method = "GET";
    req.target = "/";
    req.headers.add("Host", "a");
    req.headers.add("X-Forwarded-Proto", "https");
    req.headers.add("Forwarded", "proto=https");
    req.headers.add("X-Forwarded-Host", "evil.example");
    req.headers.add("X-Forwarded-Prefix", "/evil");
    req.headers.add("X-Original-URL", "/admin");
    auto forward = [](RequestHead r, bool trusted, ForwardInfo fwd = {}) {
        REQUIRE_FALSE(prepareForwarding(r, ForwardRules{"203.0.113.5", trusted}));
        std::string out;
        writeUpstreamRequest(r, fwd, out);
        return out;
    };
    std::string untrusted = forward(req, false);
    CHECK(untrusted.find("X-Forwarded-Proto: http\r\n") != std::string::npos);
    CHECK(untrusted.find("https") == std::string::npos);
    CHECK(untrusted.find("X-Forwarded-Host") == std::string::npos);
    CHECK(untrusted.find("\r\nForwarded:") == std::string::npos);
    CHECK(untrusted.find("evil") == std::string::npos);
    CHECK(untrusted.find("admin") == std::string::npos);
    // Trusted: the exchange reads the scheme (forwardedProto) before the head is rewritten, and
    // the one X-Forwarded-Proto that goes upstream says exactly that.
    CHECK(forwardedProto(req.headers) == "https");
    std::string trustedOut = forward(req, true, ForwardInfo{"https"});
    CHECK(trustedOut.find("X-Forwarded-Proto: https\r\n") != std::string::npos);
    CHECK(trustedOut.find("X-Forwarded-Proto: http\r\n") == std::string::npos); // not doubled
    CHECK(trustedOut.find("X-Forwarded-Prefix: /evil\r\n") != std::string::npos);
    CHECK(trustedOut.find("X-Original-URL: /admin\r\n") != std::string::npos);
    CHECK(trustedOut.find("\r\nForwarded: proto=https\r\n") != std::string::npos);
    CHECK(trustedOut.find("X-Forwarded-Host: evil.example\r\n") != std::string::npos);
    // A trusted peer that says nothing of the scheme: ours (https from a PROXY v2 SSL TLV).
    RequestHead plain;
    plain.method = "GET";
    plain.target = "/";
    plain.headers.add("Host", "a");
    std::string viaTls = forward(plain, true, ForwardInfo{"https"});
    CHECK(viaTls.find("X-Forwarded-Proto: https\r\n") != std::string::npos);
}

TEST_CASE("several X-Forwarded-For fields are walked as one list, from the last") {
    // HAProxy's option forwardfor appends a field of its own after the client's forged one.
    auto trusted = [](std::string_view a) { return a.rfind("10.", 0) == 0; };
    HeaderList h;
    h.add("X-Forwarded-For", "127.0.0.1");    // written by the client
    h.add("X-Forwarded-For", "198.51.100.9"); // the proxy's: what it saw
    CHECK(forwardedClient("10.0.0.1", h, trusted) == "198.51.100.9");
    HeaderList chain;
    chain.add("X-Forwarded-For", "198.51.100.9, 10.0.0.5");
    chain.add("X-Forwarded-For", "10.0.0.6");
    CHECK(forwardedClient("10.0.0.1", chain, trusted) == "198.51.100.9");
}
