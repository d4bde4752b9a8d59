#include "cache/policy/facts.h"

#include <algorithm>
#include <charconv>

#include "cache/policy/http.h"
#include "cache/policy/keys.h"
#include "http/date.h"
#include "http/structured_field.h"

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
    std::string_view s = http::trimOws(v->substr(0, v->find(',')));
    std::int64_t x = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    if (r.ptr != s.data() + s.size() || s.empty() || s.front() == '-' || s.front() == '+')
        return 0;
    if (r.ec == std::errc::result_out_of_range)
        return std::int64_t{1} << 31;
    if (r.ec != std::errc())
        return 0;
    return std::min<std::int64_t>(x, std::int64_t{1} << 31);
}

namespace {
// RFC 9213 §2.1: a targeted field that is not a valid Structured Field Dictionary is ignored.
bool validTargeted(const http::HeaderList &h, std::string_view field) {
    bool ok = true;
    h.forEach([&](std::string_view n, std::string_view v) {
        ok = ok && (!http::equalsIgnoreCase(n, field) || http::sf::isDictionary(v));
    });
    return ok;
}
} // namespace

ResponseFacts responseFacts(int status, std::int64_t contentLength, const http::HeaderList &resp,
                            const PolicyConfig &cfg) {
    ResponseFacts f;
    f.status = status;
    f.contentLength = contentLength;
    f.cacheControl = http::parseCacheControl(resp);
    f.directives = f.cacheControl;
    if (cfg.mode == Mode::Http && !cfg.targetedField.empty()) {
        http::CacheControl targeted = http::parseCacheControl(resp, cfg.targetedField);
        if (targeted.present && validTargeted(resp, cfg.targetedField))
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
