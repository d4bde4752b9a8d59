#include "cache/page/compress.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "cache/policy/policy.h"
#include "cache/policy/request.h"
#include "http/headers.h"

namespace fc::cache {

namespace {

// Levels: produced once per stored copy (on the thread pool when large), served many times,
// so the ratio matters more than the speed, within reason: gzip's default 6 (what nginx and
// Varnish use), brotli 6 and zstd 6 (about gzip-9's ratio at a fraction of brotli-11's time;
// benchmarks/store_bench.cpp measures them).
constexpr int kGzipLevel = 6;
constexpr int kBrotliQuality = 6;
constexpr int kZstdLevel = 6;

bool gzipEncode(std::string_view in, std::string &out) {
    z_stream z{};
    if (deflateInit2(&z, kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    out.resize(deflateBound(&z, static_cast<uLong>(in.size())));
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef *>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return rc == Z_STREAM_END;
}

// zlib's inflate; windowBits 15+32 reads gzip and zlib headers, -15 raw deflate.
bool zlibDecode(std::string_view in, int windowBits, std::size_t maxOut, std::string &out) {
    z_stream z{};
    if (inflateInit2(&z, windowBits) != Z_OK)
        return false;
    out.clear();
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    char buf[16384];
    int rc = Z_OK;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef *>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        std::size_t got = sizeof buf - z.avail_out;
        if (out.size() + got > maxOut) {
            rc = Z_BUF_ERROR;
            break;
        }
        out.append(buf, got);
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            break; // truncated
        if (rc == Z_BUF_ERROR)
            rc = Z_OK;
    }
    // Only one whole stream, nothing after it.
    const bool ok = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    return ok;
}

bool brotliEncode(std::string_view in, std::string &out) {
    std::size_t n = BrotliEncoderMaxCompressedSize(in.size());
    if (n == 0)
        n = in.size() + 1024;
    out.resize(n);
    if (!BrotliEncoderCompress(kBrotliQuality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, in.size(),
                               reinterpret_cast<const std::uint8_t *>(in.data()), &n,
                               reinterpret_cast<std::uint8_t *>(out.data())))
        return false;
    out.resize(n);
    return true;
}

bool brotliDecode(std::string_view in, std::size_t maxOut, std::string &out) {
    BrotliDecoderState *s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    if (!s)
        return false;
    out.clear();
    std::size_t availIn = in.size();
    const auto *nextIn = reinterpret_cast<const std::uint8_t *>(in.data());
    std::uint8_t buf[16384];
    BrotliDecoderResult r;
    bool ok = false;
    for (;;) {
        std::size_t availOut = sizeof buf;
        std::uint8_t *nextOut = buf;
        r = BrotliDecoderDecompressStream(s, &availIn, &nextIn, &availOut, &nextOut, nullptr);
        std::size_t got = sizeof buf - availOut;
        if (out.size() + got > maxOut)
            break;
        out.append(reinterpret_cast<char *>(buf), got);
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            ok = availIn == 0;
            break;
        }
        if (r != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
            break; // error, or input ended before the stream did
    }
    BrotliDecoderDestroyInstance(s);
    return ok;
}

bool zstdEncode(std::string_view in, std::string &out) {
    out.resize(ZSTD_compressBound(in.size()));
    std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), kZstdLevel);
    if (ZSTD_isError(n))
        return false;
    out.resize(n);
    return true;
}

bool zstdDecode(std::string_view in, std::size_t maxOut, std::string &out) {
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return false;
    out.clear();
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    char buf[16384];
    bool ok = false;
    for (;;) {
        ZSTD_outBuffer ob{buf, sizeof buf, 0};
        std::size_t rc = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(rc) || out.size() + ob.pos > maxOut)
            break;
        out.append(buf, ob.pos);
        if (rc == 0 && ib.pos == ib.size) { // a frame ended exactly at the end of the input
            ok = true;
            break;
        }
        if (ob.pos == 0 && ib.pos == ib.size)
            break; // truncated
    }
    ZSTD_freeDCtx(d);
    return ok;
}

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && http::equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

} // namespace

bool encodeBody(http::Coding c, std::string_view in, std::string &out) {
    switch (c) {
    case http::Coding::Gzip:
        return gzipEncode(in, out);
    case http::Coding::Br:
        return brotliEncode(in, out);
    case http::Coding::Zstd:
        return zstdEncode(in, out);
    default:
        return false;
    }
}

bool decodeBody(http::Coding c, std::string_view in, std::size_t maxOut, std::string &out) {
    switch (c) {
    case http::Coding::Gzip:
        return zlibDecode(in, 15 + 32, maxOut, out);
    case http::Coding::Deflate:
        // RFC 9110 §8.4.1.2 says zlib format; some servers send raw deflate.
        return zlibDecode(in, 15 + 32, maxOut, out) || zlibDecode(in, -15, maxOut, out);
    case http::Coding::Br:
        return brotliDecode(in, maxOut, out);
    case http::Coding::Zstd:
        return zstdDecode(in, maxOut, out);
    default:
        return false;
    }
}

bool compressibleType(std::optional<std::string_view> contentType,
                      const std::vector<std::string> &types) {
    if (!contentType)
        return false;
    std::string_view t = http::trimOws(contentType->substr(0, contentType->find(';')));
    if (t.empty())
        return false;
    char lower[128];
    if (t.size() > sizeof lower)
        return false;
    for (std::size_t i = 0; i < t.size(); ++i)
        lower[i] = static_cast<char>(t[i] >= 'A' && t[i] <= 'Z' ? t[i] + 32 : t[i]);
    std::string_view lt(lower, t.size());
    for (const auto &p : types)
        if (globMatch(p, lt))
            return true;
    return false;
}

std::vector<Representation> transformBody(const TransformPlan &plan, const CompressConfig &cfg,
                                          std::string body) {
    std::vector<Representation> reps;
    reps.reserve(1 + cfg.codings.size());
    reps.push_back({plan.source, false, std::move(body)});
    const std::string &origin = reps[0].body;
    if (plan.compress && plan.source == http::Coding::Identity) {
        for (http::Coding c : cfg.codings) {
            Representation r{c, true, {}};
            if (encodeBody(c, origin, r.body) && r.body.size() < origin.size())
                reps.push_back(std::move(r));
        }
    } else if (plan.decode && plan.source != http::Coding::Identity) {
        Representation r{http::Coding::Identity, true, {}};
        if (decodeBody(plan.source, origin, plan.maxOut, r.body))
            reps.push_back(std::move(r));
    }
    return reps;
}

void representationHead(std::string_view base, http::Coding coding, bool transformed,
                        std::size_t bodySize, std::string &out) {
    out.clear();
    bool hadLength = false, varyListsIt = false;
    std::string_view etag;
    out.append(http::headStatusLine(base));
    http::forEachHeadField(
        base, [&](std::string_view name, std::string_view value, std::string_view line) {
            if (http::equalsIgnoreCase(name, "content-encoding"))
                return;
            if (http::equalsIgnoreCase(name, "content-length")) {
                hadLength = true;
                return;
            }
            if (http::equalsIgnoreCase(name, "etag")) {
                etag = value;
                return;
            }
            if (http::equalsIgnoreCase(name, "vary"))
                http::forEachListMember(value, [&](std::string_view item) {
                    varyListsIt |= http::equalsIgnoreCase(item, "accept-encoding") || item == "*";
                });
            out.append(line);
        });
    if (!varyListsIt)
        out.append("Vary: Accept-Encoding\r\n");
    if (coding != http::Coding::Identity && coding != http::Coding::AsStored) {
        out.append("Content-Encoding: ");
        out.append(http::codingName(coding));
        out.append("\r\n");
    }
    if (!etag.empty()) {
        out.append("ETag: ");
        if (transformed && !startsWithIgnoreCase(etag, "W/"))
            out.append("W/");
        out.append(etag);
        out.append("\r\n");
    }
    if (hadLength) {
        out.append("Content-Length: ");
        out.append(std::to_string(bodySize));
        out.append("\r\n");
    }
}

} // namespace fc::cache
