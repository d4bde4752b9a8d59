// The representations of one stored copy (issue #13): the body as the origin sent it, plus the
// codings frontcache produces from it once (br, gzip, zstd for an identity body), or the identity
// body decoded from an origin's gzip/br/zstd/deflate. A hit then picks the best one the client
// accepts (http::AcceptedCodings) and sends it from the item in one writev.
//
// The codecs are Debian's zlib, libbrotli and libzstd, called directly (no packaged C++ wrapper
// covers all three; the calls are one-shot or a bounded streaming loop). Pure functions; safe
// from any thread (libuv's thread pool runs them for large bodies, see proxy/page_fill.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/coding.h"

namespace fc::cache {

struct CompressConfig {
    // cache.compress: produced for identity bodies, in order of preference on equal q.
    std::vector<http::Coding> codings{http::Coding::Br, http::Coding::Gzip};
    // cache.compress_types: media types ('*' globbing, case-insensitive, parameters ignored).
    std::vector<std::string> types{"text/*", "application/json", "application/javascript",
                                   "application/xml", "image/svg+xml"};
    std::uint64_t minSize = 256; // cache.compress_min_size
};

// Encodes `in` with `c` (Gzip, Br or Zstd) into `out` (replaced). False if the codec failed.
bool encodeBody(http::Coding c, std::string_view in, std::string &out);
// Decodes `in` (Gzip, Br, Zstd or Deflate — zlib format, or raw deflate as some servers send)
// into `out` (replaced). False when malformed, truncated, or when the result would exceed
// `maxOut` bytes (a decompression bomb is refused, not buffered).
bool decodeBody(http::Coding c, std::string_view in, std::size_t maxOut, std::string &out);

// Does a response with this Content-Type belong to cache.compress_types?
bool compressibleType(std::optional<std::string_view> contentType,
                      const std::vector<std::string> &types);

// One representation of a stored copy.
struct Representation {
    http::Coding coding = http::Coding::Identity;
    bool transformed = false; // produced by frontcache (its ETag is made weak)
    std::string body;
};

// What to make of an origin's body (decided at the response head, applied when it is whole).
struct TransformPlan {
    http::Coding source = http::Coding::Identity; // the origin's Content-Encoding
    bool compress = false;        // identity body of a compressible type, transformation allowed
    bool decode = false;          // a coded body, transformation allowed: add its identity form
    std::size_t maxOut = 1 << 20; // cache.max_object_size: a decoded body may not exceed it
};

// The representations of `body` under `plan`: [0] is the origin's body (moved in), then the
// produced ones. A coding is kept only when smaller than the identity body; a failed decode
// leaves [0] alone (the caller decides whether the page may still be stored).
std::vector<Representation> transformBody(const TransformPlan &plan, const CompressConfig &cfg,
                                          std::string body);

// The head of one representation, derived from the stored head of the origin's representation
// `base` (status line and fields, each ending in CRLF, no blank line): Content-Encoding set (or
// removed for identity), Content-Length = `bodySize` when `base` has one, a transformed body's
// strong ETag made weak (RFC 9110 §8.8.1), and Accept-Encoding added to Vary when it is not
// listed. Replaces `out`.
void representationHead(std::string_view base, http::Coding coding, bool transformed,
                        std::size_t bodySize, std::string &out);

} // namespace fc::cache
