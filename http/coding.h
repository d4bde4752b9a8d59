// Content codings (RFC 9110 §8.4.1) and Accept-Encoding negotiation (RFC 9110 §12.5.3).
// Pure functions over field values; no allocation; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace fc::http {

// The codings frontcache can produce or undo. The numbers are stored in pages (cache/page/page.h):
// never renumber.
enum class Coding : std::uint8_t {
    Identity = 0,
    Gzip = 1,
    Br = 2,
    Zstd = 3,
    Deflate = 4, // decoded only (the zlib format, RFC 9110 §8.4.1.2); never produced
    // A page written before representations existed: served as stored, whatever it says.
    AsStored = 255,
};

// "identity", "gzip", "br", "zstd", "deflate" ("" for AsStored).
std::string_view codingName(Coding c);

// The coding named by a Content-Encoding field value: absent, empty or "identity" is Identity;
// "gzip" / "x-gzip" (§8.4.1.3), "br", "zstd", "deflate" (case-insensitive). nullopt for anything
// else, including several codings applied in a row ("gzip, br"): frontcache cannot undo those.
std::optional<Coding> parseContentCoding(std::optional<std::string_view> contentEncoding);

// How much a client wants each coding, in thousandths (RFC 9110 §12.5.3 q-values, 0-1000),
// from its Accept-Encoding field value, parsed once:
//  - absent field: identity 1000, every other coding 0 (a client that sent nothing, like curl,
//    cannot be assumed to decode anything, although the RFC allows it);
//  - a coding listed gets its q (default 1000); "x-gzip" counts as "gzip"; the first listing wins;
//  - a coding not listed gets the q of "*" if present, else 0 — except identity, which stays
//    acceptable (1000) unless "identity;q=0", or "*;q=0" without identity listed;
//  - an empty field value accepts identity only.
// Malformed members (a bad q) count as q=0 for the coding they name.
class AcceptedCodings {
public:
    explicit AcceptedCodings(std::optional<std::string_view> acceptEncoding);
    int quality(Coding c) const;

private:
    bool present_ = false;
    short listed_[5] = {-1, -1, -1, -1, -1}; // by Coding (AsStored is never listed)
    short star_ = -1;
};

} // namespace fc::http
