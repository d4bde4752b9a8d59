// What the differential fuzz targets (fuzz_chunked, fuzz_http_response) share: CHECK, the split
// position an input names, heap copies of the pieces they feed, and RFC 9110's tchar.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

// A failed check is a crash, which libFuzzer reports with the input.
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

namespace fc::fuzz {

// The split position that bytes `lo` and `hi` (little-endian) name in `size` bytes: 0 to `size`.
inline std::size_t splitAt(std::uint8_t lo, std::uint8_t hi, std::size_t size) {
    return (lo | (std::size_t{hi} << 8)) % (size + 1);
}

// `piece` in a heap buffer of exactly its size: a read past it is an ASan report.
inline std::unique_ptr<char[]> heapCopy(std::string_view piece) {
    std::unique_ptr<char[]> buf(new char[piece.size()]);
    if (!piece.empty())
        std::memcpy(buf.get(), piece.data(), piece.size());
    return buf;
}

// RFC 9110 §5.6.2: tchar, and a token (one or more of them).
inline bool tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}
inline bool token(std::string_view s) {
    if (s.empty())
        return false;
    for (unsigned char c : s)
        if (!tchar(c))
            return false;
    return true;
}

} // namespace fc::fuzz
