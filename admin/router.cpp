#include "admin/router.h"

#include <optional>

#include "admin/admin_server.h"
#include "admin/groups.h"
#include "admin/metrics.h"
#include "admin/request_parse.h"
#include "admin/variants.h"
#include "cache/store/clock.h"
#include "cache/store/store.h"
#include "common/log.h"
#include "fleet/peer_forward.h"
#include "proxy/cache_context.h"
#include "proxy/purge.h"

namespace fc::admin {

namespace {

// ?host=H (percent-decoded) wins. Else a Host header narrows the purge to that site — unless
// it names the admin port itself (its bound address, or any name with the admin port's port:
// "localhost:9090", a service name), and never for a peer's forwarded purge, which says its
// host in the query or means every host.
std::string hostFilter(const http::RequestHead &req, std::string_view query,
                       const std::string &selfAddress, bool fromPeer) {
    std::optional<std::string> param;
    forEachParam(query, [&](std::string_view kv) {
        if (kv.rfind("host=", 0) != 0)
            return true;
        param = percentDecode(kv.substr(5));
        return false;
    });
    if (param)
        return *param;
    auto h = req.headers.get("host");
    if (fromPeer || !h || h->empty() || *h == selfAddress)
        return {};
    const std::size_t colon = selfAddress.rfind(':');
    if (colon != std::string::npos && h->ends_with(std::string_view(selfAddress).substr(colon)))
        return {}; // the admin port by another name
    return std::string(*h);
}

Reply flush(AdminContext &ctx, bool fromPeer) {
    ctx.store->flushAll(0);
    FC_INFO("admin: cache flushed%s", fromPeer ? " (forwarded by a peer)" : "");
    if (ctx.peers && !fromPeer)
        ctx.peers->submit({"POST", "/flush", "", "flush"});
    return {200, "application/json", "{\"flushed\": true}\n"};
}

// POST /purge?group=G[&group=H] (cache/groups.h): the pages of those groups, on `host` or every
// host; the body is not read (but for a peer's list of the shared-cluster keys it deleted).
Reply groupPurge(AdminServer &server, const std::vector<std::string> &groups,
                 const std::string &host, bool soft, const proxy::PeerOrigin *origin) {
    AdminContext &ctx = server.context();
    proxy::PurgeOutcome o =
        proxy::purgeGroups(server.loop(), *ctx.cache, groups, host, soft, *ctx.ownCounters, origin);
    FC_INFO("admin: %spurged %zu page(s) for %zu group(s)%s%s%s", soft ? "soft-" : "",
            o.removed + o.expired, groups.size(), host.empty() ? "" : " on host ", host.c_str(),
            origin ? " (forwarded by a peer)" : "");
    return {200, "application/json", proxy::purgeAnswer(o, soft)};
}

// PURGE /path (any path: the page's) or POST /purge (a list in the body).
Reply purgeRequest(AdminServer &server, const http::RequestHead &req, std::string &body,
                   std::string_view query, bool fromPeer) {
    AdminContext &ctx = server.context();
    std::vector<std::string> paths;
    proxy::PeerOrigin origin;
    std::string host = hostFilter(req, query, ctx.selfAddress, fromPeer);
    bool soft = false;
    if (req.method == "PURGE") {
        paths.push_back(purgePath(req.target, soft));
    } else {
        soft = softRequested(query);
        if (fromPeer)
            proxy::takeSharedDone(body, origin);
        if (std::vector<std::string> groups = groupParams(query); !groups.empty())
            return groupPurge(server, groups, host, soft, fromPeer ? &origin : nullptr);
        if (!parsePathList(body, paths))
            return {400, "text/plain", "expected one path per line, or a JSON array of strings\n"};
    }
    for (const auto &p : paths)
        if (p.empty() || p[0] != '/')
            return {400, "text/plain", "paths must start with '/': " + p + "\n"};
    proxy::PurgeOutcome o = proxy::purge(server.loop(), *ctx.cache, paths, host, soft,
                                         *ctx.ownCounters, fromPeer ? &origin : nullptr);
    FC_INFO("admin: %spurged %zu page(s) for %zu path(s)%s%s%s", soft ? "soft-" : "",
            o.removed + o.expired, paths.size(), host.empty() ? "" : " on host ", host.c_str(),
            fromPeer ? " (forwarded by a peer)" : "");
    return {200, "application/json", proxy::purgeAnswer(o, soft)};
}

} // namespace

Reply route(AdminServer &server, const http::RequestHead &req, std::string &body) {
    AdminContext &ctx = server.context();
    std::string_view target = req.target;
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query =
        path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view();
    const bool get = req.method == "GET";
    if (!ctx.token.empty() && !(get && path == "/health") &&
        !bearerMatches(req.headers.get("authorization"), ctx.token))
        return {401, "text/plain", "admin.token is set: send Authorization: Bearer <token>\n"};
    const bool fromPeer = req.headers.get("x-frontcache-forwarded").has_value();
    if (get && path == "/metrics")
        return {200, "text/plain; version=0.0.4", renderMetrics(ctx, false)};
    if (get && path == "/stats")
        return {200, "application/json", renderMetrics(ctx, true)};
    if (get && path == "/top")
        return {200, "text/plain", server.topText()};
    if (get && path == "/variants")
        return variantsReply(*ctx.store, ctx.clock->now(), query);
    if (get && path == "/groups" && ctx.cache && ctx.cache->groups)
        return groupsReply(*ctx.cache->groups, ctx.clock->now(), query);
    if (get && path == "/health")
        return {200, "text/plain", "ok\n"};
    if (req.method == "POST" && path == "/flush")
        return flush(ctx, fromPeer);
    if (req.method == "PURGE" || (req.method == "POST" && path == "/purge"))
        return purgeRequest(server, req, body, query, fromPeer);
    return {404, "text/plain",
            "admin endpoints: GET /metrics, GET /stats, GET /top, GET /variants, "
            "GET /groups, GET /health, PURGE /path, POST /purge, POST /flush\n"};
}

} // namespace fc::admin
