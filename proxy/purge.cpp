#include "proxy/purge.h"

#include <xxhash.h>

#include <charconv>

#include "cache/purge.h"
#include "proxy/cache_context.h"
#include "proxy/purge_forwarding.h"
#include "proxy/shared_cache.h"

namespace fc::proxy {

namespace {

constexpr std::string_view kSharedDone = "# shared-done\n";
// Beyond this many keys the list is not sent (a forwarded body stays well under the admin
// port's 1 MiB): the peers then delete what they found, a few deletes twice.
constexpr std::size_t kMaxSharedDone = 20000;

// The message admin.peers receive: POST /purge with the same host and softness, the paths one
// per line, then the keys already deleted from the shared cluster.
PeerMessage peerPurge(const std::vector<std::string> &paths, std::string_view host, bool soft,
                      const std::vector<std::uint64_t> &sharedDone) {
    PeerMessage m;
    m.method = "POST";
    m.target = "/purge";
    char sep = '?';
    if (soft) {
        m.target += "?soft=1";
        sep = '&';
    }
    if (!host.empty()) {
        m.target += sep;
        m.target += "host=";
        m.target += host;
    }
    for (const auto &p : paths) {
        m.body += p;
        m.body += '\n';
    }
    if (!sharedDone.empty() && sharedDone.size() <= kMaxSharedDone) {
        m.body += kSharedDone;
        char hex[17];
        for (std::uint64_t h : sharedDone) {
            auto r = std::to_chars(hex, hex + 16, h, 16);
            m.body.append(hex, r.ptr);
            m.body += '\n';
        }
    }
    m.what = std::string(soft ? "soft purge" : "purge") + " of " + std::to_string(paths.size()) +
             " path(s)";
    return m;
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
    std::vector<std::uint64_t> sharedDone;
    if (cc.shared && !keys.empty()) {
        if (fromPeer && fromPeer->sharedDoneKnown)
            std::erase_if(keys, [&](const std::string &k) {
                return fromPeer->sharedDone.count(sharedKeyHash(k)) != 0;
            });
        for (const auto &k : keys)
            sharedDone.push_back(sharedKeyHash(k));
        if (!keys.empty())
            purgeShared(loop, *cc.shared, std::move(keys));
    }
    counters.inc(counters.purged, o.removed);
    counters.inc(counters.softPurged, o.expired);
    if (cc.peers && !fromPeer)
        cc.peers->submit(peerPurge(paths, host, soft, sharedDone));
    return o;
}

std::string purgeAnswer(const PurgeOutcome &o, bool soft) {
    std::string s = "{\"purged\": " + std::to_string(o.removed + o.expired);
    if (soft)
        s += ", \"expired\": " + std::to_string(o.expired);
    return s + "}\n";
}

} // namespace fc::proxy
