#include "proxy/purge.h"

#include <xxhash.h>

#include <cctype>
#include <charconv>

#include "cache/groups.h"
#include "cache/purge.h"
#include "http/rewrite.h"
#include "proxy/cache_context.h"
#include "proxy/purge_forwarding.h"
#include "proxy/shared_cache.h"

namespace fc::proxy {

namespace {

constexpr std::string_view kSharedDone = "# shared-done\n";
// Beyond this many keys the list is not sent (a forwarded body stays well under the admin
// port's 1 MiB): the peers then delete what they found, a few deletes twice.
constexpr std::size_t kMaxSharedDone = 20000;

// The keys already deleted from the shared cluster, after a "# shared-done" line.
void appendSharedDone(std::string &body, const std::vector<std::uint64_t> &sharedDone) {
    if (sharedDone.empty() || sharedDone.size() > kMaxSharedDone)
        return;
    body += kSharedDone;
    char hex[17];
    for (std::uint64_t h : sharedDone) {
        auto r = std::to_chars(hex, hex + 16, h, 16);
        body.append(hex, r.ptr);
        body += '\n';
    }
}

// A query value percent-encoded (RFC 3986 §2.1: all but unreserved): a group may hold any
// visible character, a client's Host '&' or '=', and neither may make another parameter.
void appendQueryValue(std::string &out, std::string_view v) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : v) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
}

// "?soft=1&host=H" after what `target` holds already.
void appendSoftAndHost(std::string &target, std::string_view host, bool soft) {
    char sep = target.find('?') == std::string::npos ? '?' : '&';
    if (soft) {
        target += sep;
        target += "soft=1";
        sep = '&';
    }
    if (!host.empty()) {
        target += sep;
        target += "host=";
        appendQueryValue(target, host);
    }
}

// The message admin.peers receive: POST /purge with the same host and softness, the paths one
// per line, then the keys already deleted from the shared cluster.
PeerMessage peerPurge(const std::vector<std::string> &paths, std::string_view host, bool soft,
                      const std::vector<std::uint64_t> &sharedDone) {
    PeerMessage m;
    m.method = "POST";
    m.target = "/purge";
    appendSoftAndHost(m.target, host, soft);
    for (const auto &p : paths) {
        m.body += p;
        m.body += '\n';
    }
    appendSharedDone(m.body, sharedDone);
    m.what = std::string(soft ? "soft purge" : "purge") + " of " + std::to_string(paths.size()) +
             " path(s)";
    return m;
}

// Purges by group for admin.peers: POST /purge?group=G&group=H (percent-encoded: a group may
// hold any visible character), the same host and softness; the body only the keys done. The
// admin port reads targets of up to 8 KiB, so a long list of groups is sent in several messages
// of at most kMaxPeerTarget bytes, each with the whole list of keys done.
constexpr std::size_t kMaxPeerTarget = 4096;

std::vector<PeerMessage> peerGroupPurges(const std::vector<std::string> &groups,
                                         std::string_view host, bool soft,
                                         const std::vector<std::uint64_t> &sharedDone) {
    std::vector<PeerMessage> out;
    if (host.size() > cache::kMaxIndexedHost)
        return out; // no instance indexes a page under such a host: nothing to purge there
    std::size_t inMessage = 0;
    auto finish = [&] {
        PeerMessage &m = out.back();
        appendSoftAndHost(m.target, host, soft);
        appendSharedDone(m.body, sharedDone);
        m.what = std::string(soft ? "soft purge" : "purge") + " of " + std::to_string(inMessage) +
                 " group(s)";
    };
    for (const auto &g : groups) {
        std::string encoded;
        appendQueryValue(encoded, g);
        // Room for the tail finish() adds: "&soft=1&host=" and the encoded host (at most 3x).
        const std::size_t tail = 32 + 3 * host.size();
        if (!out.empty() && out.back().target.size() + encoded.size() + 7 + tail > kMaxPeerTarget) {
            finish();
            out.emplace_back();
        } else if (out.empty()) {
            out.emplace_back();
        }
        PeerMessage &m = out.back();
        if (m.target.empty()) {
            m.method = "POST";
            m.target = "/purge?group=";
            inMessage = 0;
        } else {
            m.target += "&group=";
        }
        m.target += encoded;
        ++inMessage;
    }
    if (!out.empty())
        finish();
    return out;
}

// What every purge does after its own store: the same keys deleted from the shared cluster
// (but those a forwarding peer deleted already); returns the hashes of those deleted, for the
// message to the peers.
std::vector<std::uint64_t> purgeSharedKeys(uv_loop_t *loop, const CacheContext &cc,
                                           std::vector<std::string> keys,
                                           const PeerOrigin *fromPeer) {
    std::vector<std::uint64_t> sharedDone;
    if (!cc.shared || keys.empty())
        return sharedDone;
    if (fromPeer && fromPeer->sharedDoneKnown)
        std::erase_if(keys, [&](const std::string &k) {
            return fromPeer->sharedDone.count(sharedKeyHash(k)) != 0;
        });
    for (const auto &k : keys)
        sharedDone.push_back(sharedKeyHash(k));
    if (!keys.empty())
        purgeShared(loop, *cc.shared, std::move(keys));
    return sharedDone;
}

} // namespace

std::uint64_t sharedKeyHash(std::string_view key) {
    return XXH3_64bits(key.data(), key.size());
}

void takeSharedDone(std::string &body, PeerOrigin &origin) {
    std::size_t at = body.rfind(kSharedDone);
    if (at == std::string::npos || (at != 0 && body[at - 1] != '\n'))
        return;
    origin.sharedDoneKnown = true;
    std::string_view rest = std::string_view(body).substr(at + kSharedDone.size());
    while (!rest.empty()) {
        std::size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        std::uint64_t h = 0;
        if (std::from_chars(line.data(), line.data() + line.size(), h, 16).ec == std::errc())
            origin.sharedDone.insert(h);
        if (nl == std::string_view::npos)
            break;
        rest.remove_prefix(nl + 1);
    }
    body.erase(at);
}

PurgeOutcome purge(uv_loop_t *loop, const CacheContext &cc, const std::vector<std::string> &paths,
                   std::string_view host, bool soft, CacheCounters &counters,
                   const PeerOrigin *fromPeer) {
    std::vector<std::string> keys;
    PurgeOutcome o;
    if (soft) {
        auto r = cache::softPurgePaths(*cc.store, paths, host, cc.clock->now(), &keys);
        o.removed = r.removed;
        o.expired = r.expired;
    } else {
        o.removed = cache::purgePaths(*cc.store, cc.policy, paths, host, &keys);
    }
    const std::vector<std::uint64_t> sharedDone =
        purgeSharedKeys(loop, cc, std::move(keys), fromPeer);
    counters.inc(counters.purged, o.removed);
    counters.inc(counters.softPurged, o.expired);
    if (cc.peers && !fromPeer)
        cc.peers->submit(peerPurge(paths, host, soft, sharedDone));
    return o;
}

PurgeOutcome purgeGroups(uv_loop_t *loop, const CacheContext &cc,
                         const std::vector<std::string> &groups, std::string_view host, bool soft,
                         CacheCounters &counters, const PeerOrigin *fromPeer) {
    PurgeOutcome o;
    if (!cc.groups || groups.empty())
        return o;
    std::vector<std::string> keys;
    const cache::GroupPurgeResult r = cache::purgeGroups(*cc.store, *cc.groups, cc.policy, groups,
                                                         host, soft, cc.clock->now(), &keys);
    o.removed = r.removed;
    o.expired = r.expired;
    const std::vector<std::uint64_t> sharedDone =
        purgeSharedKeys(loop, cc, std::move(keys), fromPeer);
    counters.inc(counters.purged, o.removed);
    counters.inc(counters.softPurged, o.expired);
    counters.inc(counters.groupPurges);
    counters.inc(counters.groupPurgedPages, o.removed + o.expired);
    if (cc.peers && !fromPeer)
        for (PeerMessage &m : peerGroupPurges(groups, host, soft, sharedDone))
            cc.peers->submit(std::move(m));
    return o;
}

void invalidateGroups(uv_loop_t *loop, const CacheContext &cc, const http::RequestHead &req,
                      int status, const http::HeaderList &resp, CacheCounters &counters) {
    if (!cache::invalidatesGroups(req.method, status) || !resp.has("cache-group-invalidation"))
        return;
    std::vector<std::string> groups;
    cache::GroupTally tally;
    const bool listed = cache::invalidationGroups(resp, "cache-group-invalidation", groups, tally);
    countGroupTally(tally, counters);
    if (!listed || groups.empty())
        return;
    const http::TargetParts t = http::splitTarget(req.target);
    const std::string host(t.absolute() ? t.authority : req.headers.get("host").value_or(""));
    if (!host.empty()) // the same origin only (RFC 9875 §3): never every host
        purgeGroups(loop, cc, groups, host, false, counters);
}

void countGroupTally(const cache::GroupTally &t, CacheCounters &counters) {
    for (int i = 0; i < cache::kGroupIgnoredReasons; ++i)
        if (t.ignored[i])
            counters.inc(counters.groupFieldsIgnored[i], t.ignored[i]);
}

std::string purgeAnswer(const PurgeOutcome &o, bool soft) {
    std::string s = "{\"purged\": " + std::to_string(o.removed + o.expired);
    if (soft)
        s += ", \"expired\": " + std::to_string(o.expired);
    return s + "}\n";
}

} // namespace fc::proxy
