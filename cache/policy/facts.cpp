#include "cache/policy/facts.h"

#include <charconv>

#include "cache/policy/http.h"
#include "cache/policy/keys.h"
#include "http/date.h"

namespace fc::cache {

std::optional<std::int64_t> firstDate(const http::HeaderList &h, std::string_view name,
                                      std::size_t *count) {
    std::optional<std::string_view> v = h.get(name);
    if (count)
        *count = h.count(name);
    if (!v)
        return std::nullopt;
    return http::parseHttpDate(*v);
}

std::int64_t ageValue(const http::HeaderList &h) {
    std::optional<std::string_view> v = h.get("age");
    if (!v)
        return 0;
    std::string_view s = http::trimOws(*v);
    std::int64_t x = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || x < 0)
        return 0;
    return x;
}

ResponseFacts responseFacts(int status, std::int64_t contentLength, const http::HeaderList &resp,
                            const PolicyConfig &cfg) {
    ResponseFacts f;
    f.status = status;
    f.contentLength = contentLength;
    f.cacheControl = http::parseCacheControl(resp);
    f.directives = f.cacheControl;
    if (cfg.mode == Mode::Http && !cfg.targetedField.empty()) {
        http::CacheControl targeted = http::parseCacheControl(resp, cfg.targetedField);
        if (targeted.present)
            f.directives = targeted;
    }
    f.setCookie = resp.has("set-cookie");
    http::forEachVary(resp, [&](std::string_view h) {
        f.varyStar = f.varyStar || h == "*";
        f.varyUnderscore = f.varyUnderscore || h.find('_') != std::string_view::npos;
    });
    if (!f.varyStar)
        varyHeaderList(resp, f.varyList);
    f.date = firstDate(resp, "date");
    f.lastModified = firstDate(resp, "last-modified");
    f.expires = firstDate(resp, "expires", &f.expiresCount);
    f.age = ageValue(resp);
    if (auto etag = resp.get("etag")) {
        f.hasEtag = true;
        f.etag.assign(*etag);
    }
    auto coding = resp.get("content-encoding");
    f.hasContentEncoding = coding.has_value();
    f.contentEncoding = http::parseContentCoding(coding);
    if (auto type = resp.get("content-type"))
        f.contentType.emplace(*type);
    return f;
}

} // namespace fc::cache
