#include "cache/page.h"

#include <cstring>

namespace fc::cache {

namespace {
template <typename T> void putLe(char *p, T v) {
    std::memcpy(p, &v, sizeof v);
} // x86/arm: LE
template <typename T> T getLe(const char *p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "page format is little-endian");
} // namespace

std::size_t encodedPageSize(const PageView &f) {
    return kPageHeaderSize + f.etag.size() + f.uri.size() + f.varied.size() + f.head.size() +
           f.body.size();
}

void encodePage(char *out, const PageView &f) {
    std::memcpy(out, "FCP2", 4);
    putLe<std::uint16_t>(out + 4, static_cast<std::uint16_t>(f.status));
    putLe<std::uint16_t>(out + 6, static_cast<std::uint16_t>(f.etag.size()));
    putLe<std::int64_t>(out + 8, f.storedAt);
    putLe<std::int64_t>(out + 16, f.lastModified);
    putLe<std::uint32_t>(out + 24, f.ttl);
    putLe<std::uint32_t>(out + 28, static_cast<std::uint32_t>(f.head.size()));
    putLe<std::uint32_t>(out + 32, f.grace);
    putLe<std::uint32_t>(out + 36, f.staleIfError);
    putLe<std::uint16_t>(out + 40, static_cast<std::uint16_t>(f.uri.size()));
    putLe<std::uint16_t>(out + 42, static_cast<std::uint16_t>(f.varied.size()));
    char *p = out + kPageHeaderSize;
    for (std::string_view part : {f.etag, f.uri, f.varied, f.head, f.body}) {
        if (!part.empty())
            std::memcpy(p, part.data(), part.size());
        p += part.size();
    }
}

bool decodePage(std::string_view v, PageView &out) {
    if (v.size() < kPageHeaderSize || std::memcmp(v.data(), "FCP2", 4) != 0)
        return false;
    const char *p = v.data();
    out.status = getLe<std::uint16_t>(p + 4);
    std::size_t etagLen = getLe<std::uint16_t>(p + 6);
    out.storedAt = getLe<std::int64_t>(p + 8);
    out.lastModified = getLe<std::int64_t>(p + 16);
    out.ttl = getLe<std::uint32_t>(p + 24);
    std::size_t headLen = getLe<std::uint32_t>(p + 28);
    out.grace = getLe<std::uint32_t>(p + 32);
    out.staleIfError = getLe<std::uint32_t>(p + 36);
    std::size_t uriLen = getLe<std::uint16_t>(p + 40);
    std::size_t variedLen = getLe<std::uint16_t>(p + 42);
    if (v.size() < kPageHeaderSize + etagLen + uriLen + variedLen + headLen)
        return false;
    std::size_t at = kPageHeaderSize;
    out.etag = v.substr(at, etagLen);
    at += etagLen;
    out.uri = v.substr(at, uriLen);
    at += uriLen;
    out.varied = v.substr(at, variedLen);
    at += variedLen;
    out.head = v.substr(at, headLen);
    at += headLen;
    out.body = v.substr(at);
    return true;
}

} // namespace fc::cache
