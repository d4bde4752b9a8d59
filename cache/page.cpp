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

std::size_t encodedPageSize(std::size_t etagLen, std::size_t headLen, std::size_t bodyLen) {
    return kPageHeaderSize + etagLen + headLen + bodyLen;
}

void encodePage(char *out, int status, std::int64_t storedAt, std::int64_t lastModified,
                std::uint32_t ttl, std::string_view etag, std::string_view head,
                std::string_view body) {
    std::memcpy(out, "FCP1", 4);
    putLe<std::uint16_t>(out + 4, static_cast<std::uint16_t>(status));
    putLe<std::uint16_t>(out + 6, static_cast<std::uint16_t>(etag.size()));
    putLe<std::int64_t>(out + 8, storedAt);
    putLe<std::int64_t>(out + 16, lastModified);
    putLe<std::uint32_t>(out + 24, ttl);
    putLe<std::uint32_t>(out + 28, static_cast<std::uint32_t>(head.size()));
    char *p = out + kPageHeaderSize;
    std::memcpy(p, etag.data(), etag.size());
    p += etag.size();
    std::memcpy(p, head.data(), head.size());
    p += head.size();
    std::memcpy(p, body.data(), body.size());
}

bool decodePage(std::string_view v, PageView &out) {
    if (v.size() < kPageHeaderSize || std::memcmp(v.data(), "FCP1", 4) != 0)
        return false;
    const char *p = v.data();
    out.status = getLe<std::uint16_t>(p + 4);
    std::size_t etagLen = getLe<std::uint16_t>(p + 6);
    out.storedAt = getLe<std::int64_t>(p + 8);
    out.lastModified = getLe<std::int64_t>(p + 16);
    out.ttl = getLe<std::uint32_t>(p + 24);
    std::size_t headLen = getLe<std::uint32_t>(p + 28);
    if (v.size() < kPageHeaderSize + etagLen + headLen)
        return false;
    out.etag = v.substr(kPageHeaderSize, etagLen);
    out.head = v.substr(kPageHeaderSize + etagLen, headLen);
    out.body = v.substr(kPageHeaderSize + etagLen + headLen);
    return true;
}

} // namespace fc::cache
