#include <doctest/doctest.h>

#include "http/rewrite.h"

using namespace fc::http;

namespace {
RequestHead request(std::string method, std::string target,
                    std::initializer_list<std::pair<const char *, const char *>> headers) {
    RequestHead r;
    r.method = std::move(method);
    r.target = std::move(target);
    for (auto &[n, v] : headers)
        r.headers.add(n, v);
    return r;
}
// What goes upstream for `r` from `peer`: the head made into the forwarded request, written.
std::string forward(RequestHead r, std::string_view peer, bool trusted = false,
                    ForwardInfo fwd = {}) {
    ForwardRules rules;
    rules.peer = peer;
    rules.trustedPeer = trusted;
    REQUIRE_FALSE(prepareForwarding(r, rules));
    std::string out;
    writeUpstreamRequest(r, fwd, out);
    return out;
}
} // namespace

TEST_CASE("hop-by-hop fields are removed, forwarding fields added") {
    auto r = request("GET", "/p?q=1",
                     {{"Host", "example.com"},
                      {"Connection", "keep-alive, X-Secret"},
                      {"X-Secret", "s"},
                      {"Keep-Alive", "timeout=5"},
                      {"TE", "trailers"},
                      {"Upgrade", "h2c"},
                      {"Proxy-Connection", "keep-alive"},
                      {"Proxy-Authorization", "Basic x"},
                      {"Expect", "100-continue"},
                      {"Accept", "*/*"},
                      {"X-Forwarded-For", "10.0.0.1"},
                      {"Via", "1.0 edge"}});
    std::string out = forward(r, "127.0.0.1");
    CHECK(out == "GET /p?q=1 HTTP/1.1\r\n"
                 "Host: example.com\r\n"
                 "Accept: */*\r\n"
                 "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"
                 "X-Forwarded-Proto: http\r\n"
                 "Via: 1.0 edge, 1.1 frontcache\r\n"
                 "\r\n");
}

TEST_CASE("body framing is re-declared") {
    auto r = request("POST", "/f", {{"Host", "h"}, {"Transfer-Encoding", "chunked"}});
    r.chunked = true;
    std::string out = forward(r, "::1");
    CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    auto c = request("POST", "/f", {{"Host", "h"}, {"Content-Length", "3"}});
    c.contentLength = 3;
    out = forward(c, "::1");
    CHECK(out.find("Content-Length: 3\r\n") != std::string::npos);
    CHECK(out.find("X-Forwarded-For: ::1\r\n") != std::string::npos);
    auto p = request("POST", "/f", {{"Host", "h"}});
    p.contentLength = 0;
    out = forward(p, "::1");
    CHECK(out.find("Content-Length: 0\r\n") != std::string::npos);
}

TEST_CASE("absolute-form target becomes origin-form with its Host; its scheme is not believed") {
    auto r = request("GET", "https://Other.example:8080/x?y", {{"Host", "ignored"}});
    ForwardRules rules;
    rules.peer = "1.2.3.4";
    REQUIRE_FALSE(prepareForwarding(r, rules));
    CHECK(r.target == "/x?y"); // what every decision reads, the key included
    CHECK(r.headers.get("host") == "Other.example:8080");
    CHECK(r.headers.count("host") == 1);
    std::string out;
    writeUpstreamRequest(r, ForwardInfo{}, out);
    CHECK(out.rfind("GET /x?y HTTP/1.1\r\n", 0) == 0);
    CHECK(out.find("Host: Other.example:8080\r\n") != std::string::npos);
    CHECK(out.find("ignored") == std::string::npos);
    CHECK(out.find("X-Forwarded-Proto: http\r\n") != std::string::npos);
    auto q = request("GET", "http://h?a=1", {});
    REQUIRE_FALSE(prepareForwarding(q, rules));
    CHECK(q.target == "/?a=1");
    auto bare = request("GET", "http://h", {});
    REQUIRE_FALSE(prepareForwarding(bare, rules));
    CHECK(bare.target == "/");
    auto bad = request("GET", "http://x.test@evil/acct", {{"Host", "x.test"}});
    CHECK(prepareForwarding(bad, rules).status == 400);
}

TEST_CASE("fields named in Connection are gone before anything keys the request") {
    auto r = request("GET", "/",
                     {{"Host", "h"},
                      {"Accept-Language", "fr"},
                      {"Cookie", "s=1"},
                      {"Connection", "Accept-Language"},
                      {"connection", "cookie, keep-alive"}});
    REQUIRE_FALSE(prepareForwarding(r, ForwardRules{"1.1.1.1"}));
    CHECK_FALSE(r.headers.has("accept-language"));
    CHECK_FALSE(r.headers.has("cookie"));
    CHECK(r.headers.count("connection") == 2); // its options stay readable
    auto up =
        request("GET", "/ws", {{"Host", "h"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
    REQUIRE_FALSE(prepareForwarding(up, ForwardRules{"1.1.1.1"}));
    CHECK(up.headers.has("upgrade")); // classify bypasses it; never forwarded (hop-by-hop)
    for (const char *framing : {"Host", "content-length", "Transfer-Encoding"}) {
        INFO(framing);
        auto f =
            request("GET", "/", {{"Host", "h"}, {"Connection", "close"}, {"Connection", framing}});
        auto refused = prepareForwarding(f, ForwardRules{"1.1.1.1"});
        CHECK(refused.status == 400);
    }
}

TEST_CASE("field names with underscores are dropped unless server.underscores_in_headers") {
    auto r = request("GET", "/", {{"Host", "h"}, {"Accept_Language", "fr"}, {"X-A", "1"}});
    auto kept = r;
    REQUIRE_FALSE(prepareForwarding(r, ForwardRules{"1.1.1.1"}));
    CHECK_FALSE(r.headers.has("accept_language"));
    CHECK(r.headers.has("x-a"));
    ForwardRules keep{"1.1.1.1"};
    keep.underscoreNames = true;
    REQUIRE_FALSE(prepareForwarding(kept, keep));
    CHECK(kept.headers.get("accept_language") == "fr");
    CHECK_FALSE(kept.headers.has("accept-language")); // '_' is not '-'
}

TEST_CASE("Host must be a valid authority (RFC 9110 §7.2, RFC 3986 §3.2.2)") {
    for (const char *good : {"example.com", "example.com:8080", "EXAMPLE.com.", "127.0.0.1:80",
                             "[::1]", "[2001:db8::1]:443", "a-b_c~d", "x%41y", "h:"}) {
        INFO(good);
        CHECK(isValidAuthority(good));
    }
    for (const char *bad :
         {"", "x.test/static/app.js?", "x.test?", "u@x.test", "a b", "a\tb", ":80", "h:8o", "[::1",
          "[zz::1]", "[::1]x", "x%4", "x%zz", "a#b", "a\\b", "\xc3\xa9.fr"}) {
        INFO(bad);
        CHECK_FALSE(isValidAuthority(bad));
        auto r = request("GET", "/", {{"Host", bad}});
        CHECK(prepareForwarding(r, ForwardRules{"1.1.1.1"}).status == 400);
    }
}

TEST_CASE("several X-Forwarded-For and Via fields are one list each") {
    auto r = request("GET", "/",
                     {{"Host", "h"},
                      {"X-Forwarded-For", "6.6.6.6"},
                      {"Via", "1.0 a"},
                      {"X-Forwarded-For", "198.51.100.7"},
                      {"Via", "1.1 b"}});
    std::string out = forward(r, "10.0.0.2", true);
    CHECK(out.find("X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.2\r\n") != std::string::npos);
    CHECK(out.find("Via: 1.0 a, 1.1 b, 1.1 frontcache\r\n") != std::string::npos);
}

TEST_CASE("response framing choice") {
    RequestHead req11 = request("GET", "/", {});
    RequestHead req10 = request("GET", "/", {});
    req10.versionMinor = 0;
    ResponseHead resp;
    resp.status = 200;
    resp.contentLength = 10;
    CHECK(chooseResponseFraming(resp, false, req11) == BodyFraming::ContentLength);
    CHECK(chooseResponseFraming(resp, true, req11) == BodyFraming::None);
    resp.contentLength = -1;
    CHECK(chooseResponseFraming(resp, false, req11) == BodyFraming::Chunked);
    CHECK(chooseResponseFraming(resp, false, req10) == BodyFraming::Close);
    resp.status = 304;
    CHECK(chooseResponseFraming(resp, false, req11) == BodyFraming::None);
}

TEST_CASE("client response head") {
    ResponseHead resp;
    resp.status = 200;
    resp.reason = "OK";
    resp.contentLength = 5;
    resp.headers.add("Content-Type", "text/plain");
    resp.headers.add("Content-Length", "5");
    resp.headers.add("Connection", "keep-alive");
    resp.headers.add("Keep-Alive", "timeout=5");
    std::string out;
    writeClientResponse(resp, BodyFraming::ContentLength, true, false, "1.1 frontcache", {}, out);
    CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVia: 1.1 frontcache\r\n"
                 "Content-Length: 5\r\n\r\n");
    out.clear();
    resp.headers.add("Transfer-Encoding", "chunked");
    writeClientResponse(resp, BodyFraming::Chunked, false, false, "1.1 frontcache", "X-A: 1\r\n",
                        out);
    CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVia: 1.1 frontcache\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\nX-A: 1\r\n\r\n");
}

TEST_CASE("error responses are complete and say close") {
    std::string r = errorResponse(502, true, "upstream refused");
    CHECK(r.rfind("HTTP/1.1 502 Bad Gateway\r\n", 0) == 0);
    CHECK(r.find("Connection: close\r\n") != std::string::npos);
    auto body = r.substr(r.find("\r\n\r\n") + 4);
    CHECK(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
    CHECK(errorResponse(503, false).find("Retry-After:") != std::string::npos);
}

TEST_CASE("splitTarget: origin-form and absolute-form (RFC 9112 §3.2)") {
    auto o = splitTarget("/a/b?x=1");
    CHECK_FALSE(o.absolute());
    CHECK(o.path == "/a/b?x=1");
    auto a = splitTarget("http://example.com:8080/a?x=1");
    CHECK(a.scheme == "http");
    CHECK(a.authority == "example.com:8080");
    CHECK(a.path == "/a?x=1");
    auto s = splitTarget("HTTPS://Example.com");
    CHECK(s.scheme == "HTTPS");
    CHECK(s.authority == "Example.com");
    CHECK(s.path.empty());
    CHECK(s.originPath() == "/");
    auto q = splitTarget("http://h?x");
    CHECK(q.authority == "h");
    CHECK(q.path == "?x");
    CHECK_FALSE(splitTarget("http://").absolute()); // no authority: not absolute-form
    CHECK_FALSE(splitTarget("ftp://h/x").absolute());
    CHECK(splitTarget("*").path == "*");
}

TEST_CASE("appendChunk frames one chunk; an empty piece adds nothing") {
    std::string out;
    appendChunk(out, "hello");
    appendChunk(out, "");
    appendChunk(out, std::string(26, 'x'));
    out.append(kLastChunk);
    CHECK(out == "5\r\nhello\r\n1a\r\n" + std::string(26, 'x') + "\r\n0\r\n\r\n");
}

TEST_CASE("cannedResponse: the one short response frontcache writes itself") {
    CHECK(cannedResponse(200, "application/json", "{}\n", false) ==
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{}\n");
    CHECK(cannedResponse(404, "text/plain", "", true) ==
          "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n");
    CHECK(cannedResponse(503, "text/plain", "x", false).find("Retry-After: 1\r\n") !=
          std::string::npos);
}

TEST_CASE("kept underscore names cannot spell a field frontcache reads, writes or keys") {
    ForwardRules keep{"1.1.1.1"};
    keep.underscoreNames = true;
    auto r = request("GET", "/",
                     {{"Host", "h"},
                      {"X_Forwarded_Proto", "https"},
                      {"X_Forwarded_Host", "evil.test"},
                      {"Content_Length", "5"},
                      {"X_HTTP_Method_Override", "POST"},
                      {"Accept_Language", "fr"}});
    REQUIRE_FALSE(prepareForwarding(r, keep));
    CHECK(r.headers.size() == 3); // Host, Accept_Language, X-Forwarded-For
    CHECK(r.headers.has("accept_language"));
}

TEST_CASE("the overriding fields are listed once: removed from strangers, keyed from proxies") {
    for (const char *claim : {"X-Forwarded-Host", "x-forwarded-port", "X-Forwarded-Prefix",
                              "X-Original-URL", "X-Rewrite-URL", "X-Forwarded-Ssl"}) {
        INFO(claim);
        CHECK(isProxyClaim(claim));
        CHECK(isKeyedOverride(claim));
    }
    CHECK(isProxyClaim("Forwarded"));
    CHECK_FALSE(isKeyedOverride("Forwarded")); // its for= differs per client
    CHECK_FALSE(isProxyClaim("X-HTTP-Method-Override"));
    CHECK(isKeyedOverride("X-HTTP-Method-Override"));
    CHECK_FALSE(isKeyedOverride("X-Forwarded-For"));
    CHECK_FALSE(isKeyedOverride("Accept-Language"));
}

TEST_CASE("a WebSocket handshake is recognised, and only that upgrade is forwarded") {
    auto ws = [](const char *method, int minor, const char *connection, const char *upgrade) {
        RequestHead r = request(method, "/ws", {{"Host", "h"}, {"Sec-WebSocket-Key", "k"}});
        r.upgradeAsked = true; // llhttp's flags (parser_test checks them)
        r.versionMajor = 1;
        r.versionMinor = minor;
        if (connection)
            r.headers.add("Connection", connection);
        if (upgrade)
            r.headers.add("Upgrade", upgrade);
        return isWebSocketUpgrade(r);
    };
    CHECK(ws("GET", 1, "Upgrade", "websocket"));
    CHECK(ws("GET", 1, "keep-alive, Upgrade", "WebSocket")); // Firefox's Connection
    CHECK_FALSE(ws("GET", 1, "Upgrade", "h2c"));             // never h2c
    CHECK_FALSE(ws("GET", 1, nullptr, "websocket"));         // Upgrade not named in Connection
    CHECK_FALSE(ws("GET", 1, "Upgrade", nullptr));
    CHECK_FALSE(ws("POST", 1, "Upgrade", "websocket"));
    CHECK_FALSE(ws("GET", 0, "Upgrade", "websocket")); // HTTP/1.0 has no upgrade
    RequestHead body = request("GET", "/ws", {{"Host", "h"}, {"Connection", "Upgrade"}});
    body.versionMajor = body.versionMinor = 1;
    body.headers.add("Upgrade", "websocket");
    CHECK_FALSE(isWebSocketUpgrade(body)); // llhttp saw no upgrade: never looked at further
    body.upgradeAsked = true;
    CHECK_FALSE(isWebSocketUpgrade(body)); // no Sec-WebSocket-Key (RFC 6455 §4.1)
    body.headers.add("Sec-WebSocket-Key", "a");
    CHECK(isWebSocketUpgrade(body));
    body.headers.add("Sec-WebSocket-Key", "b");
    CHECK_FALSE(isWebSocketUpgrade(body)); // two of them
    body.headers.remove("sec-websocket-key");
    body.headers.add("Sec-WebSocket-Key", "a");
    body.contentLength = 5;
    CHECK_FALSE(isWebSocketUpgrade(body));

    // Upstream: the client's Connection and Upgrade never pass as they came; ours say websocket.
    auto r = request("GET", "/ws",
                     {{"Host", "h"},
                      {"Connection", "Upgrade, X-Secret"},
                      {"X-Secret", "s"},
                      {"Upgrade", "websocket, h2c"},
                      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                      {"Sec-WebSocket-Version", "13"}});
    ForwardInfo fwd;
    fwd.upgrade = true;
    CHECK(forward(r, "127.0.0.1", false, fwd) == "GET /ws HTTP/1.1\r\n"
                                                 "Host: h\r\n"
                                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                                 "Sec-WebSocket-Version: 13\r\n"
                                                 "X-Forwarded-For: 127.0.0.1\r\n"
                                                 "X-Forwarded-Proto: http\r\n"
                                                 "Via: 1.1 frontcache\r\n"
                                                 "Connection: upgrade\r\n"
                                                 "Upgrade: websocket\r\n"
                                                 "\r\n");

    // The client hears the 101 with its Upgrade, never "Connection: close".
    ResponseHead resp;
    resp.status = 101;
    resp.reason = "Switching Protocols";
    resp.headers.add("Upgrade", "websocket");
    resp.headers.add("Connection", "Upgrade");
    resp.headers.add("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    std::string out;
    writeClientResponse(resp, BodyFraming::None, false, false, "1.1 frontcache", {}, out);
    CHECK(out == "HTTP/1.1 101 Switching Protocols\r\n"
                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                 "Via: 1.1 frontcache\r\n"
                 "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
}

TEST_CASE("the 101 must carry the Sec-WebSocket-Accept of the handshake (RFC 6455 section 4.2.2)") {
    HeaderList req, resp;
    req.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK_FALSE(webSocketAcceptMatches(req, resp));                   // none
    resp.add("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); // the RFC's own example
    CHECK(webSocketAcceptMatches(req, resp));
    HeaderList other;
    other.add("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==");
    CHECK_FALSE(webSocketAcceptMatches(other, resp)); // another handshake's
    HeaderList two;
    two.add("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    two.add("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK_FALSE(webSocketAcceptMatches(req, two));
    CHECK_FALSE(webSocketAcceptMatches(HeaderList(), resp)); // no key asked
}
