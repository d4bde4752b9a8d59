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

struct ForwardInfo {
    std::string_view clientAddress;          // peer IP, appended to X-Forwarded-For
    std::string_view proto = "http";         // X-Forwarded-Proto we send when we do not pass one on
    std::string_view via = "1.1 frontcache"; // received-protocol + pseudonym (RFC 9110 §7.6.3)
    // The peer is a trusted proxy (server.trusted_proxies): its X-Forwarded-Proto, Forwarded and
    // X-Forwarded-Host are passed on. From anyone else they are removed and X-Forwarded-Proto is
    // ours (`proto`), so a client cannot claim https.
    bool trustedPeer = false;
    // X-Request-Id sent upstream (replacing the client's); "" = the client's passes as it came.
    std::string_view requestId = {};
};

// Writes the request head to send upstream. The body framing is re-declared from `req`:
// chunked when the client sent chunked, Content-Length otherwise (0 is omitted for methods
// without a body). Absolute-form targets are reduced to origin-form with Host taken from the
// target (RFC 9112 §3.2.2). `Expect` is removed: frontcache answers 100-continue itself.
// X-Forwarded-For gets the client address appended; X-Forwarded-Proto, Forwarded and
// X-Forwarded-Host follow ForwardInfo::trustedPeer.
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
void writeClientResponse(const ResponseHead &resp, BodyFraming framing, bool keepAlive,
                         bool clientIs10, std::string_view via, std::string_view extra,
                         std::string &out);

// The standard reason phrase for a status code ("OK", "Not Found"), or "" if unknown.
std::string_view reasonPhrase(int status);

// A complete, short response frontcache itself generates (an error, a purge's answer, the admin
// port's pages): status line, Content-Type, Content-Length, Retry-After for a 503, Connection:
// close when `close`, then `body`. The one place such responses are written.
std::string cannedResponse(int status, std::string_view contentType, std::string_view body,
                           bool close);

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
