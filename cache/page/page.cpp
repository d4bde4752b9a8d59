#include "cache/page/page.h"

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

constexpr std::size_t kRepEntrySize = 12;

// The representations to write: the caller's list, or head/body as one AsStored.
std::size_t repsOf(const PageView &f, PageRepresentation *out) {
    if (f.repCount == 0) {
        out[0] = {http::Coding::AsStored, f.head, f.body};
        return 1;
    }
    std::size_t n = f.repCount < kMaxRepresentations ? f.repCount : kMaxRepresentations;
    for (std::size_t i = 0; i < n; ++i)
        out[i] = f.reps[i];
    return n;
}
} // namespace

std::size_t encodedPageSize(const PageView &f) {
    PageRepresentation reps[kMaxRepresentations];
    std::size_t n = repsOf(f, reps);
    std::size_t size = kPageHeaderSize + f.etag.size() + f.uri.size() + f.varied.size();
    if (!f.groups.empty())
        size += 4 + f.groups.size(); // FCP4
    for (std::size_t i = 0; i < n; ++i)
        size += kRepEntrySize + reps[i].head.size() + reps[i].body.size();
    return size;
}

void encodePage(char *out, const PageView &f) {
    PageRepresentation reps[kMaxRepresentations];
    std::size_t n = repsOf(f, reps);
    const bool v4 = !f.groups.empty();
    std::memcpy(out, v4 ? "FCP4" : "FCP3", 4);
    putLe<std::uint16_t>(out + 4, static_cast<std::uint16_t>(f.status));
    putLe<std::uint16_t>(out + 6, static_cast<std::uint16_t>(f.etag.size()));
    putLe<std::int64_t>(out + 8, f.storedAt);
    putLe<std::int64_t>(out + 16, f.lastModified);
    putLe<std::uint32_t>(out + 24, f.ttl);
    putLe<std::uint32_t>(out + 28, static_cast<std::uint32_t>(n));
    putLe<std::uint32_t>(out + 32, f.grace);
    putLe<std::uint32_t>(out + 36, f.staleIfError);
    putLe<std::uint16_t>(out + 40, static_cast<std::uint16_t>(f.uri.size()));
    putLe<std::uint16_t>(out + 42, static_cast<std::uint16_t>(f.varied.size()));
    putLe<std::uint32_t>(out + 44, f.initialAge);
    char *p = out + kPageHeaderSize;
    if (v4) {
        putLe<std::uint32_t>(p, static_cast<std::uint32_t>(f.groups.size()));
        p += 4;
    }
    auto put = [&p](std::string_view part) {
        if (!part.empty())
            std::memcpy(p, part.data(), part.size());
        p += part.size();
    };
    put(f.etag);
    put(f.uri);
    put(f.varied);
    put(f.groups);
    for (std::size_t i = 0; i < n; ++i) {
        std::memset(p, 0, kRepEntrySize);
        p[0] = static_cast<char>(reps[i].coding);
        putLe<std::uint32_t>(p + 4, static_cast<std::uint32_t>(reps[i].head.size()));
        putLe<std::uint32_t>(p + 8, static_cast<std::uint32_t>(reps[i].body.size()));
        p += kRepEntrySize;
    }
    for (std::size_t i = 0; i < n; ++i) {
        put(reps[i].head);
        put(reps[i].body);
    }
}

bool decodePage(std::string_view v, PageView &out) {
    constexpr std::size_t kV2HeaderSize = 44;
    if (v.size() < kV2HeaderSize)
        return false;
    const bool v2 = std::memcmp(v.data(), "FCP2", 4) == 0;
    const bool v4 = std::memcmp(v.data(), "FCP4", 4) == 0;
    if (!v2 && !v4 && std::memcmp(v.data(), "FCP3", 4) != 0)
        return false;
    if (!v2 && v.size() < kPageHeaderSize + (v4 ? 4 : 0))
        return false;
    const char *p = v.data();
    out.status = getLe<std::uint16_t>(p + 4);
    std::size_t etagLen = getLe<std::uint16_t>(p + 6);
    out.storedAt = getLe<std::int64_t>(p + 8);
    out.lastModified = getLe<std::int64_t>(p + 16);
    out.ttl = getLe<std::uint32_t>(p + 24);
    std::size_t word28 = getLe<std::uint32_t>(p + 28);
    out.grace = getLe<std::uint32_t>(p + 32);
    out.staleIfError = getLe<std::uint32_t>(p + 36);
    std::size_t uriLen = getLe<std::uint16_t>(p + 40);
    std::size_t variedLen = getLe<std::uint16_t>(p + 42);
    out.initialAge = v2 ? 0 : getLe<std::uint32_t>(p + 44);
    std::size_t at = v2 ? kV2HeaderSize : kPageHeaderSize;
    std::size_t groupsLen = 0;
    if (v4) {
        groupsLen = getLe<std::uint32_t>(p + at);
        at += 4;
    }
    if (v.size() - at < etagLen + uriLen + variedLen + groupsLen)
        return false;
    out.etag = v.substr(at, etagLen);
    at += etagLen;
    out.uri = v.substr(at, uriLen);
    at += uriLen;
    out.varied = v.substr(at, variedLen);
    at += variedLen;
    out.groups = v.substr(at, groupsLen);
    at += groupsLen;
    if (v2) { // one representation: head (its length at 28), then the body to the end
        if (v.size() - at < word28)
            return false;
        out.repCount = 1;
        out.reps[0] = {http::Coding::AsStored, v.substr(at, word28), v.substr(at + word28)};
    } else {
        const std::size_t n = word28;
        if (n == 0 || n > kMaxRepresentations || v.size() - at < n * kRepEntrySize)
            return false;
        const char *table = p + at;
        at += n * kRepEntrySize;
        for (std::size_t i = 0; i < n; ++i) {
            const char *e = table + i * kRepEntrySize;
            std::size_t headLen = getLe<std::uint32_t>(e + 4);
            std::size_t bodyLen = getLe<std::uint32_t>(e + 8);
            if (v.size() - at < headLen || v.size() - at - headLen < bodyLen)
                return false;
            out.reps[i].coding = static_cast<http::Coding>(static_cast<std::uint8_t>(e[0]));
            out.reps[i].head = v.substr(at, headLen);
            out.reps[i].body = v.substr(at + headLen, bodyLen);
            at += headLen + bodyLen;
        }
        if (at != v.size())
            return false;
        out.repCount = static_cast<std::uint8_t>(n);
    }
    out.head = out.reps[0].head;
    out.body = out.reps[0].body;
    return true;
}

std::size_t chooseRepresentation(const PageView &page,
                                 std::optional<std::string_view> acceptEncoding) {
    if (page.repCount <= 1)
        return 0;
    const http::AcceptedCodings accepted(acceptEncoding);
    std::size_t best = page.repCount, identity = page.repCount;
    int bestQ = 0;
    for (std::size_t i = 0; i < page.repCount; ++i) {
        const PageRepresentation &r = page.reps[i];
        if (r.coding == http::Coding::Identity)
            identity = i;
        int q = accepted.quality(r.coding);
        if (q > bestQ || (q == bestQ && q > 0 && r.body.size() < page.reps[best].body.size())) {
            best = i;
            bestQ = q;
        }
    }
    if (best < page.repCount)
        return best;
    return identity < page.repCount ? identity : 0;
}

} // namespace fc::cache
