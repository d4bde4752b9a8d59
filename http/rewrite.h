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
    std::string_view clientAddress; // peer IP, appended to X-Forwarded-For
    std::string_view proto = "http";
    std::string_view via = "1.1 frontcache"; // received-protocol + pseudonym (RFC 9110 §7.6.3)
};

// Writes the request head to send upstream. The body framing is re-declared from `req`:
// chunked when the client sent chunked, Content-Length otherwise (0 is omitted for methods
// without a body). Absolute-form targets are reduced to origin-form with Host taken from the
// target (RFC 9112 §3.2.2). `Expect` is removed: frontcache answers 100-continue itself.
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

// A complete, short error response frontcache itself generates (400, 408, 413, 502, 504...).
// With `close`, it carries Connection: close.
std::string errorResponse(int status, bool close, std::string_view detail = {});

// Appends the chunk-size line for a chunk of `len` bytes ("1a2b\r\n").
void appendChunkHeader(std::string &out, size_t len);

} // namespace fc::http
