// Cache groups (RFC 9875): the groups a response declares, the index of stored pages by group,
// and the purge by group.
//
// A response names its groups in `Cache-Groups` (RFC 9875 §2: an RFC 8941 List of Strings) or in
// the fields CDNs made popular before it — Fastly's `Surrogate-Key` and Varnish's `xkey`
// (space-separated), Cloudflare's `Cache-Tag` (comma-separated) — as cache.group_fields says. The
// groups are stored in the page (cache/page/page.h, FCP4) and belong to the host of the page's
// URI: "a" on example.com is not "a" on example.org, nor "A", nor "ab" (§2.1: identical strings,
// same origin).
//
// The index (GroupIndex) lives with the store as its LinkObserver (cache/store/store.h): a page
// is added when the store links it and removed when the store unlinks it, whatever unlinks it
// (replacement, delete, eviction, expiry found on access or reclaimed, flush), and a restore from
// a snapshot links every page again, so the index is rebuilt from the restored pages. A hit links
// nothing and never touches it. A purge by group costs the pages of the group, not a walk of the
// store. Memory: one entry per (page, group) of the linked pages, at most kMaxGroups per page,
// each counted against the store's memory limit (cache.memory), so the index is bounded with the
// store and shrinks as it evicts.
//
// Threading: every function is safe from any thread. The index is split into shards by group,
// each with its own mutex, taken after a store shard's lock (from the observer calls) and never
// held while calling the store.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/page/page.h"
#include "cache/policy/policy.h"
#include "cache/store/store.h"
#include "http/headers.h"

namespace fc::cache {

// Hostile origins: beyond these, groups are ignored (and counted).
constexpr std::size_t kMaxGroups = 128;      // per response
constexpr std::size_t kMaxGroupLength = 256; // bytes, per group
constexpr std::size_t kMaxIndexedHost = 255; // a page whose host is longer is not indexed

// The fields a response may declare its groups in.
enum class GroupField : std::uint8_t {
    CacheGroups,  // RFC 9875: "a", "b" (a Structured Field List of Strings)
    SurrogateKey, // Fastly: a b (space-separated)
    CacheTag,     // Cloudflare: a,b (comma-separated)
    Xkey,         // Varnish's xkey vmod: a b (space-separated)
};
std::string_view groupFieldName(GroupField f);
// By name, case-insensitively; false when it is none of the four.
bool groupFieldByName(std::string_view name, GroupField &out);

// Why a field or a group was ignored (the label of group_fields_ignored_total).
enum class GroupIgnored : std::uint8_t {
    Invalid, // not a Structured Field List (the whole field), a non-String member, a bad token
    TooMany, // past kMaxGroups
    TooLong, // longer than kMaxGroupLength
};
constexpr int kGroupIgnoredReasons = 3;
std::string_view groupIgnoredName(int reason);

struct GroupFieldsConfig {
    std::vector<GroupField> fields{GroupField::CacheGroups, GroupField::SurrogateKey,
                                   GroupField::CacheTag, GroupField::Xkey};
    bool forwardAliases = false; // keep Surrogate-Key, Cache-Tag, xkey in responses
};

// What was ignored while reading groups, by GroupIgnored.
struct GroupTally {
    std::size_t ignored[kGroupIgnoredReasons] = {};
    void add(GroupIgnored why, std::size_t n = 1) { ignored[static_cast<int>(why)] += n; }
};

// Reads the groups a response declares in the fields of `cfg` into `groups` (each followed by
// '\n', duplicates once, in order of appearance) and, unless cfg.forwardAliases, removes the
// alias fields (all but Cache-Groups) from `headers`: they are meant for the cache in front of
// the application, not for clients, nor for the stored copy's head. Cache-Groups itself stays.
void takeGroups(const GroupFieldsConfig &cfg, http::HeaderList &headers, std::string &groups,
                GroupTally &tally);

// The groups a Cache-Group-Invalidation field (RFC 9875 §3; every line of `field` in `headers`)
// names, bounded as above. False when it is absent or not a List (ignored whole).
bool invalidationGroups(const http::HeaderList &headers, std::string_view field,
                        std::vector<std::string> &out, GroupTally &tally);

// RFC 9875 §3: a response invalidates groups only when it answers an unsafe method (RFC 9110
// §9.2.1: anything but GET, HEAD, OPTIONS, TRACE) with a non-error status (2xx, 3xx; RFC 9111
// §4.4's "non-error").
bool invalidatesGroups(std::string_view method, int status);

// f(group) for each group of a page's groups block ("a\nb\n").
template <typename F> void forEachGroup(std::string_view groups, F &&f) {
    while (!groups.empty()) {
        const std::size_t nl = groups.find('\n');
        f(groups.substr(0, nl));
        if (nl == std::string_view::npos)
            return;
        groups.remove_prefix(nl + 1);
    }
}

// The host a page was stored for: the authority of its absolute URI ("" when it has none).
std::string_view pageHost(std::string_view uri);

class GroupIndex final : public LinkObserver {
public:
    GroupIndex() = default;
    GroupIndex(const GroupIndex &) = delete;
    GroupIndex &operator=(const GroupIndex &) = delete;

    // LinkObserver (under the item's store shard lock). The bytes charged to the store for a
    // page: kEntryBytes plus the group and host lengths per group (what one entry costs here,
    // measured: benchmarks/group_purge.py).
    std::size_t linked(Item &it) noexcept override;
    std::size_t unlinked(Item &it) noexcept override;
    void flushed(std::uint64_t flushCas) noexcept override;
    static constexpr std::size_t kEntryBytes = 64;

    // The items of `group` on `host` ("" = every host), each referenced: still linked when the
    // index was read, possibly expired or replaced since (Store::removeExact tells).
    std::vector<ItemRef> pages(std::string_view group, std::string_view host) const;

    // Purges remembered for the shared cluster, which has no index: a page found there that is
    // in a group purged (on its host, or every host) after the second it was stored is not
    // taken (Exchange::onSharedLookup), so a copy only the cluster still held is not served
    // after its purge. (A copy stored in the purge's own second is taken: it is still in the
    // store of the instance that stored it, whose purge deletes it from the cluster — and the
    // new copy stored right after a purge must be.) At most kMaxTombstones are kept; past that
    // they are forgotten for one time before which every page with groups counts as purged
    // (never stale, at worst a miss).
    void notePurged(std::string_view group, std::string_view host, std::int64_t now);
    bool purgedSince(std::string_view groups, std::string_view uri, std::int64_t storedAt) const;
    static constexpr std::size_t kMaxTombstones = 65536;

    struct GroupCount {
        std::string group, host;
        std::size_t pages = 0;
    };
    // The `n` (group, host) pairs with the most pages, most first.
    std::vector<GroupCount> top(std::size_t n) const;
    std::size_t groups() const { return pairs_.load(std::memory_order_relaxed); }
    std::size_t entries() const { return entries_.load(std::memory_order_relaxed); }

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>()(s);
        }
    };
    struct Shard {
        mutable std::mutex mu;
        // group -> host -> its linked pages: a lookup by host is a hash, whatever the number of
        // hosts a client made up for one group.
        using Hosts =
            std::unordered_map<std::string, std::unordered_set<Item *>, Hash, std::equal_to<>>;
        std::unordered_map<std::string, Hosts, Hash, std::equal_to<>> groups;
    };
    static constexpr std::size_t kShards = 16;
    Shard &shardOf(std::string_view group) const { return shards_[Hash()(group) % kShards]; }
    void add(std::string_view group, std::string_view host, Item *it);
    void drop(std::string_view group, std::string_view host, Item *it);

    mutable std::array<Shard, kShards> shards_;
    mutable std::mutex tombMu_;
    std::unordered_map<std::string, std::int64_t> tombstones_; // host '\n' group -> when
    std::int64_t forgottenBefore_ = -1;   // every page with groups stored at or before: purged
    std::atomic<std::size_t> pairs_{0};   // (group, host) pairs
    std::atomic<std::size_t> entries_{0}; // (page, group) entries
};

struct GroupPurgeResult {
    std::size_t removed = 0; // pages removed
    std::size_t expired = 0; // soft: pages marked expired instead (cache/purge.h)
};

// Purges the pages of `groups` on `host` ("" = every host) as a path purge does
// (cache/purge.h): hard — every page removed, and the header keys of their URIs; soft — pages
// with a grace window marked expired as of `now`, the others removed. `removedKeys`, when
// given, receives the keys removed or rewritten (for the shared cluster).
GroupPurgeResult purgeGroups(Store &store, GroupIndex &index, const PolicyConfig &cfg,
                             const std::vector<std::string> &groups, std::string_view host,
                             bool soft, std::int64_t now,
                             std::vector<std::string> *removedKeys = nullptr);

} // namespace fc::cache
