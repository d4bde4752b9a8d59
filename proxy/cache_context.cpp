#include "proxy/cache_context.h"

#include <cctype>

namespace fc::proxy {

void applyCacheSettings(const config::Config &c, CacheContext &ctx) {
    auto secs = [](config::Millis m) { return static_cast<std::int64_t>(m.count() / 1000); };
    ctx.policy.mode =
        c.cache.mode == config::CacheConfig::Mode::Http ? cache::Mode::Http : cache::Mode::Django;
    ctx.policy.heuristicFraction = c.cache.heuristicFraction;
    ctx.policy.heuristicMax = secs(c.cache.heuristicMax);
    ctx.policy.honorClientNoCache = c.cache.honorClientNoCache;
    ctx.policy.targetedField.clear();
    for (char ch : c.cache.targetedField)
        ctx.policy.targetedField.push_back(
            static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    ctx.policy.forwardTargetedField = c.cache.forwardTargetedField;
    ctx.policy.defaultTtl = c.cache.seconds;
    ctx.policy.keyPrefix = c.cache.keyPrefix;
    // RFC 9111 keys the whole target, query included.
    ctx.policy.queryInKey = c.cache.queryStrings == config::CacheConfig::QueryStrings::Key ||
                            ctx.policy.mode == cache::Mode::Http;
    ctx.policy.bypassPaths = c.cache.bypassPaths;
    ctx.policy.bypassCookies = c.cache.bypassCookies;
    ctx.policy.maxObjectSize = c.cache.maxObjectSize;
    ctx.policy.storeSetCookie = c.cache.storeSetCookie;
    ctx.policy.maxTtl = secs(c.cache.maxTtl);
    ctx.policy.grace = secs(c.cache.grace);
    ctx.policy.staleIfError = secs(c.cache.staleIfError);
    ctx.policy.ignoreQueryParams = c.cache.ignoreQueryParams;
    ctx.policy.ignoreCookies = c.cache.ignoreCookies;
    ctx.policy.keyCookies = c.cache.keyCookies;
    ctx.policy.compress.codings.clear();
    for (const auto &name : c.cache.compress)
        ctx.policy.compress.codings.push_back(name == "br"     ? http::Coding::Br
                                              : name == "zstd" ? http::Coding::Zstd
                                                               : http::Coding::Gzip);
    ctx.policy.compress.types = c.cache.compressTypes;
    ctx.policy.compress.minSize = c.cache.compressMinSize;
    ctx.statusHeader = c.cache.statusHeader;
    ctx.cacheStatus = c.cache.cacheStatus;
    ctx.cacheStatusKey = c.cache.cacheStatusKey;
    ctx.coalesce = c.cache.coalesce;
    ctx.lockTimeout = c.cache.lockTimeout;
    ctx.hitForMissSeconds = secs(c.cache.hitForMiss);
    ctx.allowPurgeFrom = c.admin.allowPurgeFrom;
    ctx.groupFields.fields.clear();
    for (const auto &name : c.cache.groupFields) {
        cache::GroupField f;
        if (cache::groupFieldByName(name, f)) // the loader accepted only these
            ctx.groupFields.fields.push_back(f);
    }
    ctx.groupFields.forwardAliases = c.cache.forwardGroupAliases;
}

} // namespace fc::proxy
