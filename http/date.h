// HTTP dates (RFC 9110 §5.6.7): formatting IMF-fixdate, parsing all three historical forms.
// Pure functions, no allocation; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace fc::http {

constexpr std::size_t kHttpDateLen = 29; // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes exactly kHttpDateLen bytes (no terminator) for the Unix time `t`.
void formatHttpDate(std::int64_t t, char *out);

// Parses IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime
// ("Sun Nov  6 08:49:37 1994"). Returns Unix time, or nullopt if malformed.
std::optional<std::int64_t> parseHttpDate(std::string_view s);

} // namespace fc::http
