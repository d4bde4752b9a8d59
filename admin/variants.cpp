#include "admin/variants.h"

#include <string>
#include <unordered_map>

#include "admin/request_parse.h"
#include "cache/page/page.h"
#include "cache/store/store.h"
#include "http/coding.h"
#include "proxy/access_log.h"

namespace fc::admin {

namespace {

using proxy::appendJsonString;

// "uri://HOST/PATH" split; false for a URI without a scheme.
bool splitUri(std::string_view uri, std::string_view &host, std::string_view &path) {
    std::size_t scheme = uri.find("://");
    if (scheme == std::string_view::npos)
        return false;
    std::string_view rest = uri.substr(scheme + 3);
    host = rest.substr(0, rest.find('/'));
    path = rest.substr(host.size());
    return true;
}

// The varied lines ("name: value\n"...) as a JSON object's members.
void appendVariedOn(std::string &list, std::string_view lines) {
    bool first = true;
    while (!lines.empty()) {
        std::size_t nl = lines.find('\n');
        std::string_view line = lines.substr(0, nl);
        lines = nl == std::string_view::npos ? std::string_view() : lines.substr(nl + 1);
        std::size_t colon = line.find(": ");
        if (colon == std::string_view::npos)
            continue;
        if (!first)
            list += ", ";
        first = false;
        appendJsonString(list, line.substr(0, colon));
        list += ": ";
        appendJsonString(list, line.substr(colon + 2));
    }
}

// One variant as a JSON object (without the separator before it).
void appendVariant(std::string &list, const cache::PageView &v, std::string_view key,
                   std::int64_t now) {
    list += "\"uri\": ";
    appendJsonString(list, v.uri);
    list += ", \"key\": ";
    appendJsonString(list, key);
    list += ", \"status\": " + std::to_string(v.status);
    list += ", \"bytes\": " + std::to_string(v.body.size());
    list += ", \"codings\": {"; // each representation held, with its body size
    for (std::size_t r = 0; r < v.repCount; ++r) {
        if (r)
            list += ", ";
        std::string_view name = http::codingName(v.reps[r].coding);
        appendJsonString(list, name.empty() ? "as-stored" : name);
        list += ": " + std::to_string(v.reps[r].body.size());
    }
    list += "}";
    list += ", \"age\": " + std::to_string(v.age(now));
    list += ", \"fresh\": ";
    list += v.fresh(now) ? "true" : "false";
    list += ", \"varies_on\": {";
    appendVariedOn(list, v.varied);
    list += "}}";
}

} // namespace

Reply variantsReply(cache::Store &store, std::int64_t now, std::string_view query) {
    std::string want, host;
    forEachParam(query, [&](std::string_view kv) {
        if (kv.rfind("path=", 0) == 0)
            want = percentDecode(kv.substr(5));
        else if (kv.rfind("host=", 0) == 0)
            host = percentDecode(kv.substr(5));
        return true;
    });
    if (want.empty() || want[0] != '/')
        return {400, "text/plain",
                "GET /variants?path=/page[&host=example.com] (path percent-encoded)\n"};
    std::string list;
    std::size_t count = 0;
    store.forEachLive([&](std::vector<cache::ItemRef> &items) {
        for (auto &it : items) {
            cache::PageView v;
            std::string_view uriHost, uriPath;
            if (!cache::decodePage(it->value(), v) || !splitUri(v.uri, uriHost, uriPath))
                continue;
            if (uriPath != want || (!host.empty() && uriHost != host))
                continue;
            list += count++ ? ",\n    {" : "\n    {";
            appendVariant(list, v, it->key(), now);
        }
    });
    std::string body = "{\"path\": ";
    appendJsonString(body, want);
    body += ", \"variants\": " + std::to_string(count) + ", \"stored\": [" + list +
            (count ? "\n  ]}\n" : "]}\n");
    return {200, "application/json", std::move(body)};
}

VariantCounts countVariants(cache::Store &store) {
    std::unordered_map<std::string, std::uint32_t> perUri;
    store.forEachLive([&](std::vector<cache::ItemRef> &items) {
        for (auto &it : items) {
            cache::PageView v;
            if (cache::decodePage(it->value(), v))
                ++perUri[std::string(v.uri)];
        }
    });
    VariantCounts counts;
    counts.cumulative.assign(std::size(kVariantBounds) + 1, 0);
    for (auto &[uri, n] : perUri) {
        for (std::size_t b = 0; b <= std::size(kVariantBounds); ++b)
            if (b == std::size(kVariantBounds) || n <= kVariantBounds[b])
                counts.cumulative[b] += 1;
        counts.pages += 1;
        counts.variants += n;
    }
    return counts;
}

} // namespace fc::admin
