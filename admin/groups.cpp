#include "admin/groups.h"

#include <algorithm>
#include <map>

#include "admin/request_parse.h"
#include "cache/groups.h"
#include "proxy/access_log.h"

namespace fc::admin {

namespace {

using proxy::appendJsonString;

constexpr std::size_t kTop = 100;

// The one value of `name=` in `query`, percent-decoded ("" when absent).
std::string param(std::string_view query, std::string_view name) {
    std::string out;
    forEachParam(query, [&](std::string_view kv) {
        if (kv.size() <= name.size() || kv.substr(0, name.size()) != name || kv[name.size()] != '=')
            return true;
        out = percentDecode(kv.substr(name.size() + 1));
        return false;
    });
    return out;
}

// One group's pages, grouped by URI: {"group": G, "pages": N, "uris": [{"uri": U, "variants":
// V, "keys": [...], "fresh": F}...]} (F: how many of its variants are fresh now).
void appendGroup(std::string &out, const cache::GroupIndex &index, const std::string &group,
                 std::string_view host, std::int64_t now) {
    struct Uri {
        std::vector<std::string> keys;
        std::size_t fresh = 0;
    };
    std::map<std::string, Uri> uris; // sorted: a stable listing
    std::size_t pages = 0;
    for (const cache::ItemRef &ref : index.pages(group, host)) {
        cache::PageView v;
        if (!cache::decodePage(ref->value(), v))
            continue;
        Uri &u = uris[std::string(v.uri)];
        u.keys.emplace_back(ref->key());
        u.fresh += v.fresh(now) ? 1 : 0;
        ++pages;
    }
    out += "{\"group\": ";
    appendJsonString(out, group);
    out += ", \"pages\": " + std::to_string(pages) + ", \"uris\": [";
    bool first = true;
    for (auto &[uri, u] : uris) {
        out += first ? "\n    {\"uri\": " : ",\n    {\"uri\": ";
        first = false;
        appendJsonString(out, uri);
        out += ", \"variants\": " + std::to_string(u.keys.size());
        out += ", \"fresh\": " + std::to_string(u.fresh) + ", \"keys\": [";
        std::sort(u.keys.begin(), u.keys.end());
        for (std::size_t i = 0; i < u.keys.size(); ++i) {
            if (i)
                out += ", ";
            appendJsonString(out, u.keys[i]);
        }
        out += "]}";
    }
    out += first ? "]}" : "\n  ]}";
}

} // namespace

std::vector<std::string> groupParams(std::string_view query) {
    std::vector<std::string> out;
    forEachParam(query, [&](std::string_view kv) {
        if (kv.substr(0, 6) == "group=" && kv.size() > 6)
            out.push_back(percentDecode(kv.substr(6)));
        return true;
    });
    return out;
}

Reply groupsReply(const cache::GroupIndex &index, std::int64_t now, std::string_view query) {
    const std::vector<std::string> groups = groupParams(query);
    const std::string host = param(query, "host");
    std::string out;
    if (!groups.empty()) {
        out = "{\"host\": ";
        if (host.empty())
            out += "null";
        else
            appendJsonString(out, host);
        out += ", \"groups\": [";
        for (std::size_t i = 0; i < groups.size(); ++i) {
            out += i ? ",\n  " : "\n  ";
            appendGroup(out, index, groups[i], host, now);
        }
        out += "\n]}\n";
        return {200, "application/json", std::move(out)};
    }
    out = "{\"groups\": " + std::to_string(index.groups()) +
          ", \"entries\": " + std::to_string(index.entries()) + ", \"top\": [";
    bool first = true;
    for (const auto &g : index.top(kTop)) {
        out += first ? "\n  {\"group\": " : ",\n  {\"group\": ";
        first = false;
        appendJsonString(out, g.group);
        out += ", \"host\": ";
        appendJsonString(out, g.host);
        out += ", \"pages\": " + std::to_string(g.pages) + "}";
    }
    out += first ? "]}\n" : "\n]}\n";
    return {200, "application/json", std::move(out)};
}

} // namespace fc::admin
