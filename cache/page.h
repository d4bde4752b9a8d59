// The stored page format: one byte layout for a cached HTTP response, identical in the
// in-process store and in an external memcached, so switching backends changes nothing else.
//
// Layout (integers little-endian):
//   0   4  magic "FCP1" (format version 1)
//   4   2  status code
//   6   2  etag length E
//   8   8  stored-at, Unix seconds
//   16  8  Last-Modified as Unix seconds (0 = none)
//   24  4  TTL in seconds
//   28  4  head length H
//   32  E  the ETag value, as sent (for If-None-Match without re-parsing the head)
//   32+E H the response head as it is sent: status line and header fields, each ending in CRLF,
//          without the blank line (Age, the cache status and Connection are added per response)
//   ...    the body (its length is the rest of the value; Content-Length is in the head)
//
// Pure functions over bytes; safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace fc::cache {

struct PageView {
    int status = 0;
    std::int64_t storedAt = 0;
    std::int64_t lastModified = 0;
    std::uint32_t ttl = 0;
    std::string_view etag;
    std::string_view head;
    std::string_view body;
};

constexpr std::size_t kPageHeaderSize = 32;

std::size_t encodedPageSize(std::size_t etagLen, std::size_t headLen, std::size_t bodyLen);
// Writes the page into `out` (exactly encodedPageSize(...) bytes).
void encodePage(char *out, int status, std::int64_t storedAt, std::int64_t lastModified,
                std::uint32_t ttl, std::string_view etag, std::string_view head,
                std::string_view body);
// Parses a stored value; false if it is not a page of this format (e.g. written by someone
// else under the same key).
bool decodePage(std::string_view value, PageView &out);

} // namespace fc::cache
