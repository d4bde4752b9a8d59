#include "proxy/cache_status.h"

#include "http/structured_field.h"

namespace fc::proxy {

namespace {

// One parameter of a Cache-Status member into `r`, by the names the writer uses; a value of
// another type than RFC 9211 gives the parameter is skipped.
void applyParam(std::string_view name, const http::sf::Item &v, CacheStatusReading &r) {
    namespace n = cache_status_param;
    using T = http::sf::Item::Type;
    if (name == n::kHit && v.type == T::Boolean)
        r.hit = v.boolean;
    else if (name == n::kFwd && v.type == T::Token)
        r.fwd = v.text;
    else if (name == n::kFwdStatus && v.type == T::Integer)
        r.fwdStatus = static_cast<int>(v.integer);
    else if (name == n::kTtl && v.type == T::Integer) {
        r.hasTtl = true;
        r.ttl = v.integer;
    } else if (name == n::kStored && v.type == T::Boolean)
        r.stored = v.boolean;
    else if (name == n::kCollapsed && v.type == T::Boolean)
        r.collapsed = v.boolean;
    else if (name == n::kKey && v.type == T::String)
        r.key = v.text;
    else if (name == n::kDetail && (v.type == T::String || v.type == T::Token))
        r.detail = v.text;
}

} // namespace

// RFC 9211 §2: a List (RFC 8941 §4.2.1) whose members are caches, each an Item (a token or a
// string naming it) with parameters; an inner list names no cache and is read past. The last
// member naming `cache` counts.
std::optional<CacheStatusReading> readCacheStatus(std::string_view field, std::string_view cache) {
    std::optional<CacheStatusReading> ours;
    const bool list = http::sf::forEachListMember(
        field, [&](std::size_t start, std::size_t bareEnd, std::size_t) {
            if (bareEnd == start)
                return; // an inner list
            const http::sf::Item name = http::sf::readItem(field, start, bareEnd);
            const bool named = name.type == http::sf::Item::Type::Token ||
                               name.type == http::sf::Item::Type::String;
            if (!named || name.text != cache)
                return;
            CacheStatusReading r;
            http::sf::forEachParameter(
                field, bareEnd,
                [&](std::string_view k, const http::sf::Item &v) { applyParam(k, v, r); });
            ours = std::move(r);
        });
    if (!list)
        return std::nullopt;
    return ours;
}

CacheStatus statusOf(const CacheStatusReading &r) {
    // The most specific row wins: one whose default detail matches (STALE, REVALIDATED), then one
    // whose own parameters match, then a miss whose reason the answer replaced.
    CacheStatus best = CacheStatus::None;
    int bestScore = 0;
    for (std::size_t k = 0; k < kCacheStatusCount; ++k) {
        const CacheStatusInfo &row = kCacheStatusTable[k];
        const auto s = static_cast<CacheStatus>(k);
        if (!row.writesField() || row.hit != r.hit)
            continue;
        if (row.fwdStatus != 0 && row.fwdStatus != r.fwdStatus)
            continue;
        if (!row.detail.empty() && row.detail != r.detail)
            continue;
        int score = 0;
        if (row.hit || row.fwd == r.fwd)
            score = row.detail.empty() ? 2 : 3;
        else if (s == CacheStatus::Miss && !r.fwd.empty())
            score = 1;
        if (score > bestScore) {
            best = s;
            bestScore = score;
        }
    }
    return best;
}

} // namespace fc::proxy
