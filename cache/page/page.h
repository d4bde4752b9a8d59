// The stored page format: one byte layout for a cached HTTP response, identical in the
// in-process store and in an external memcached, so switching backends changes nothing else.
//
// Layout (integers little-endian):
//   0   4  magic "FCP3" (format version 3; "FCP2" pages, one representation, are still read),
//          or "FCP4": the same with the cache groups (below); written only for a page that has
//          groups, so a page without them is byte for byte what it was
//   4   2  status code
//   6   2  etag length E
//   8   8  stored-at, Unix seconds
//   16  8  Last-Modified as Unix seconds (0 = none)
//   24  4  TTL in seconds (fresh while now < stored-at + TTL)
//   28  4  representation count R (1-4; FCP2: the head length)
//   32  4  grace in seconds: how long after the TTL the page may still be served stale while one
//          background fetch refreshes it (cache.grace or the response's stale-while-revalidate)
//   36  4  stale-if-error in seconds after the TTL (cache.stale_if_error or the response's
//          stale-if-error): served instead of an error from the upstream
//   40  2  URI length U
//   42  2  varied length V
//   44  4  age when stored, seconds (RFC 9111 §4.2.3 corrected_initial_age; 0 in django mode):
//          the page's Age is this plus the time since stored-at. FCP2 pages: none (0)
//   48  4  FCP4 only: groups length G; the offsets below then start at 52, not 48
//   48  E  the origin's ETag value, as sent (for If-None-Match without re-parsing the head)
//   48+E U the absolute URI the page was stored for ("http://host/path?query"): purging by path
//          finds every variant and every Host without a separate index
//   ...  V what separates this variant from the others: one "META_NAME: value" line per field
//          its Vary names (cache::variedValues), for GET /variants on the admin port
//   ...  G  FCP4 only: the page's cache groups (RFC 9875, cache/groups.h), one per line, each
//          ending in LF: what a purge by group finds the page by (for the host of its URI)
//   ...  R x 12: per representation: coding (http::Coding, 1 byte), 3 reserved bytes, head
//          length (4), body length (4)
//   ...    per representation, in order: its head as it is sent — status line and header
//          fields, each ending in CRLF, without the blank line (Age, the cache status and
//          Connection are added per response) — then its body.
// Representation 0 is the response as the origin sent it (patched); the others are the codings
// frontcache produced from it (cache/page/compress.h). A page with one representation is sent as
// stored to every client; with several, each client gets the best its Accept-Encoding allows.
//
// Pure functions over bytes; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http/coding.h"

namespace fc::cache {

constexpr std::size_t kMaxRepresentations = 4;

struct PageRepresentation {
    http::Coding coding = http::Coding::AsStored;
    std::string_view head;
    std::string_view body;
};

// A page's fields: filled by decodePage (the views point into the stored value), or by the
// caller for encodePage. `head` and `body` are representation 0's; `reps` lists them all
// (repCount 0 when a caller set only head and body: encoded as one AsStored representation).
struct PageView {
    int status = 0;
    std::int64_t storedAt = 0;
    std::int64_t lastModified = 0;
    std::uint32_t ttl = 0;
    std::uint32_t grace = 0;
    std::uint32_t staleIfError = 0;
    std::uint32_t initialAge = 0; // age when stored (http mode)
    std::string_view etag;
    std::string_view uri;
    std::string_view varied; // may be empty
    std::string_view groups; // cache groups, each followed by '\n' (cache/groups.h); may be empty
    std::string_view head;
    std::string_view body;
    PageRepresentation reps[kMaxRepresentations];
    std::uint8_t repCount = 0;

    std::int64_t freshUntil() const { return storedAt + ttl - initialAge; }
    // RFC 9111 §4.2.3 current_age.
    std::int64_t age(std::int64_t now) const {
        return initialAge + (now > storedAt ? now - storedAt : 0);
    }
    bool fresh(std::int64_t now) const { return now < freshUntil(); }
    bool inGrace(std::int64_t now) const { return now < freshUntil() + grace; }
    bool usableOnError(std::int64_t now) const { return now < freshUntil() + staleIfError; }
};

constexpr std::size_t kPageHeaderSize = 48; // FCP3; FCP2's was 44, FCP4's is 52

std::size_t encodedPageSize(const PageView &f);
// Writes the page into `out` (exactly encodedPageSize(f) bytes).
void encodePage(char *out, const PageView &f);
// Parses a stored value; false if it is not a page of this format (e.g. written by someone
// else under the same key, or by an older version).
bool decodePage(std::string_view value, PageView &out);

// Which representation of `page` a client with this Accept-Encoding gets (RFC 9110 §12.5.3): the
// one with the highest q above 0, the smaller body on a tie; when none is acceptable, the
// identity one (a server may always send identity). A page of one representation: 0.
std::size_t chooseRepresentation(const PageView &page,
                                 std::optional<std::string_view> acceptEncoding);

} // namespace fc::cache
