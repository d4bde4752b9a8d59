// Byte ranges (RFC 9110 §14): parsing a Range field against a representation of known length,
// and If-Range. frontcache answers single ranges of stored pages with 206 from the store; several
// ranges get the whole page (a server may always ignore Range, §14.2).
//
// Pure functions over strings; safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace fc::http {

struct ByteRange {
    enum class Kind {
        Ignore,        // no usable single range (absent, not bytes=, malformed, several): send 200
        Satisfiable,   // first..last (inclusive) of the representation: 206
        Unsatisfiable, // a valid range that selects nothing: 416 with "bytes */length"
    };
    Kind kind = Kind::Ignore;
    std::uint64_t first = 0, last = 0;
};

// RFC 9110 §14.1.2: "bytes=a-b", "bytes=a-", "bytes=-n" against `length` bytes. A last position
// past the end is clamped; "bytes=-0" and a first position at or past the end are unsatisfiable;
// anything malformed, or more than one range, is ignored.
ByteRange parseRange(std::string_view value, std::uint64_t length);

// RFC 9110 §13.1.5: does If-Range let the range apply? True when `ifRange` is a strong entity tag
// equal to `etag` (also strong), or an HTTP-date equal to `lastModified` (Unix seconds, 0 =
// unknown) — weak tags and other dates send the whole representation.
bool ifRangeAllows(std::string_view ifRange, std::string_view etag, std::int64_t lastModified);

} // namespace fc::http
