// Header rewriting between client and upstream (RFC 9110 §7.6) and serialisation of heads.
//
// A proxy must not forward hop-by-hop fields: Connection and every field it names, Keep-Alive,
// TE, Trailer, Transfer-Encoding (we re-frame bodies ourselves), Upgrade, Proxy-Connection and
// Proxy-Authorization/-Authenticate (RFC 9110 §7.6.1). It adds Via (§7.6.3) and the de-facto
// X-Forwarded-For / X-Forwarded-Proto.
//
// Pure functions over http types; they append to a caller-owned string so that a connection can
// reuse one buffer. Safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "http/headers.h"

namespace fc::http {

// Is `name` hop-by-hop, either by definition or because the message's Connection header lists
// it?
bool isHopByHop(std::string_view name, const HeaderList &headers);

// What a request's head becomes before anything reads it: the request frontcache will forward.
// Every decision — above all the cache key — and the upstream see the same fields, so no field
// can key a page without reaching the application, or reach it without keying the page (a
// poisoned page is one stored under a key that does not describe the request it answers).
struct ForwardRules {
    std::string_view peer;        // the address frontcache sees (X-Forwarded-For gets it)
    bool trustedPeer = false;     // server.trusted_proxies: its proxy claims stay (isProxyClaim);
                                  // anyone else's are removed
    bool underscoreNames = false; // server.underscores_in_headers: keep `Accept_Language`
};
struct Refusal {
    int status = 0; // 0: the request may go on; else 400
    const char *reason = nullptr;
    explicit operator bool() const { return status != 0; }
};
// Rewrites `req` in place (RFC 9110 §7.6.1, RFC 9112 §3.2):
//  - fields named in Connection are removed, with the fixed hop-by-hop Keep-Alive, TE, Trailer,
//    Proxy-Connection and Proxy-Authorization; Connection naming Host, Content-Length or
//    Transfer-Encoding is refused (400): framing and authority cannot be hop-by-hop, and quietly
//    dropping them would change what the request means;
//  - field names with '_' are removed unless rules.underscoreNames (nginx's default: CGI and
//    WSGI servers read `Accept_Language` as `Accept-Language`, a key would not); with them kept,
//    one spelling a field frontcache itself reads or writes (X_Forwarded_Proto, Content_Length,
//    X_Forwarded_For...) is still removed;
//  - an absolute-form target's authority replaces Host and the target becomes origin-form; its
//    scheme is not believed (the scheme is the connection's, or a trusted proxy's word);
//  - an untrusted peer's proxy claims (isProxyClaim) are removed; X-Forwarded-Proto always is
//    (writeUpstreamRequest sends ours, the scheme the key uses);
//  - Host must be a valid authority (isValidAuthority), else 400;
//  - every X-Forwarded-For field becomes one list, with rules.peer appended.
// Connection, Upgrade, Transfer-Encoding and Expect stay in `req` (their meaning was taken by
// the parser and the exchange); writeUpstreamRequest leaves them out. No allocation once the
// list's buffers have grown.
Refusal prepareForwarding(RequestHead &req, const ForwardRules &rules);

// Fields a proxy in front writes about the client's request — its scheme, host, port, path
// prefix, the URL before a rewrite — which frameworks read to build their pages (Django's
// USE_X_FORWARDED_HOST/PORT, Symfony's X-Forwarded-Prefix and X-Original-URL, Rack's
// X-Forwarded-Ssl...): the classic cache-poisoning fields. An untrusted peer's are removed
// (prepareForwarding); a trusted peer's pass on and key the page (isKeyedOverride), except
// X-Forwarded-Proto (the key's scheme; replaced by ours, which says the same) and Forwarded.
bool isProxyClaim(std::string_view name);
// Fields that override what the request says, and so take part in every page key when present
// (cache::pageKey): a trusted peer's proxy claims above, and the method overrides anyone may
// send (X-HTTP-Method-Override and its spellings: a GET some frameworks answer as a POST).
bool isKeyedOverride(std::string_view name);

// RFC 9110 §7.2 / RFC 3986 §3.2.2-3: uri-host [ ":" port ] — a reg-name of unreserved,
// pct-encoded and sub-delims characters, or an IPv6 literal in brackets; a port of digits.
// Empty is not valid here (a reverse proxy has no use for it).
bool isValidAuthority(std::string_view authority);

// A WebSocket opening handshake (RFC 6455 §4.1, RFC 9110 §7.8): an HTTP/1.1 GET without a body
// whose Connection lists "upgrade" and whose Upgrade lists "websocket". The one protocol
// frontcache tunnels: any other Upgrade (h2c above all) is dropped as hop-by-hop and the request
// answered as HTTP/1.1, which RFC 9110 §7.8 allows a server to do.
// Also required, as RFC 6455 §4.1 does: exactly one Sec-WebSocket-Key.
bool isWebSocketUpgrade(const RequestHead &req);
// RFC 6455 §4.2.2: the upstream's 101 carries Sec-WebSocket-Accept, the base64 of the SHA-1 of
// the request's Sec-WebSocket-Key and the protocol's GUID — proof it read this handshake.
bool webSocketAcceptMatches(const HeaderList &request, const HeaderList &response);

struct ForwardInfo {
    std::string_view proto = "http";         // X-Forwarded-Proto: the scheme the key uses
    std::string_view via = "1.1 frontcache"; // received-protocol + pseudonym (RFC 9110 §7.6.3)
    // X-Request-Id sent upstream (replacing the client's); "" = the client's passes as it came.
    std::string_view requestId = {};
    // The request is a WebSocket handshake (isWebSocketUpgrade): `Connection: upgrade` and
    // `Upgrade: websocket` go upstream, ours, in place of the client's hop-by-hop fields.
    bool upgrade = false;
};

// Writes the request head to send upstream from a head prepareForwarding() made. The body
// framing is re-declared from `req`: chunked when the client sent chunked, Content-Length
// otherwise (0 is omitted for methods without a body). Hop-by-hop fields, Content-Length and
// `Expect` (frontcache answers 100-continue itself) are left out. Via gets ours appended (all
// Via fields as one list); X-Forwarded-Proto is fwd.proto, whatever the head holds.
void writeUpstreamRequest(const RequestHead &req, const ForwardInfo &fwd, std::string &out);

enum class BodyFraming {
    None,          // no body follows (HEAD, 1xx, 204, 304): length headers passed through as sent
    ContentLength, // Content-Length: contentLength
    Chunked,       // Transfer-Encoding: chunked, we chunk the bytes ourselves
    Close,         // delimited by closing the connection (HTTP/1.0 client, unknown length)
};

// Chooses how to frame a response body for the client (RFC 9112 §6.3).
BodyFraming chooseResponseFraming(const ResponseHead &resp, bool requestWasHead,
                                  const RequestHead &req);

// Writes the status line and the end-to-end header fields (hop-by-hop removed, Via added), each
// ending in CRLF, without framing fields, Connection or the blank line. With `dropLength`,
// Content-Length is left out too. This is also the head a stored page keeps.
void writeResponseHead(const ResponseHead &resp, bool dropLength, std::string_view via,
                       std::string &out);

// Writes the response head to send to the client. `keepAlive` says whether the connection
// stays open after this response; `extra` is appended verbatim (each field ending in CRLF).
// A 101 (the upstream accepted a WebSocket handshake) says `Connection: upgrade` and
// `Upgrade: websocket` instead: what follows is the tunnel, not HTTP.
void writeClientResponse(const ResponseHead &resp, BodyFraming framing, bool keepAlive,
                         bool clientIs10, std::string_view via, std::string_view extra,
                         std::string &out);

// The standard reason phrase for a status code ("OK", "Not Found"), or "" if unknown.
std::string_view reasonPhrase(int status);

// A complete, short response frontcache itself generates (an error, a purge's answer, the admin
// port's pages, upstream.unavailable_page): status line, Content-Type, Content-Length,
// Retry-After (`retryAfter` seconds) for a 503, Connection: close when `close`, then `body`. The
// one place such responses are written.
// A 503 or a 429 says Retry-After: `retryAfter` seconds.
std::string cannedResponse(int status, std::string_view contentType, std::string_view body,
                           bool close, std::int64_t retryAfter = 1);

// An error answer (400, 408, 413, 502, 504...): a canned text/plain response whose body is
// "<status> <reason>[: detail]".
std::string errorResponse(int status, bool close, std::string_view detail = {});

// Chunked transfer coding (RFC 9112 §7.1), the one place frontcache frames a body: appends
// `piece` as one chunk (nothing for an empty piece, which would read as the last chunk).
void appendChunk(std::string &out, std::string_view piece);
// The last chunk with no trailer fields.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// A request target split per RFC 9112 §3.2: origin-form ("/p?q": `path` is all of it) or
// absolute-form ("http://host/p?q": `scheme` and `authority` from the target, `path` what
// follows the authority — "" when nothing does; originPath() gives "/" then). The scheme is
// matched case-insensitively (http and https only); anything else is treated as origin-form.
struct TargetParts {
    std::string_view scheme;    // "http" / "https" as written, or "" for origin-form
    std::string_view authority; // host[:port] of an absolute-form target
    std::string_view path;      // path and query
    std::string_view originPath() const { return path.empty() ? std::string_view("/") : path; }
    bool absolute() const { return !scheme.empty(); }
};
TargetParts splitTarget(std::string_view target);

} // namespace fc::http
