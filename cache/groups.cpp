#include "cache/groups.h"

#include <algorithm>

#include "cache/policy/keys.h"
#include "cache/purge.h"
#include "http/cache_control.h"
#include "http/rewrite.h"
#include "http/structured_field.h"

namespace fc::cache {

namespace {

constexpr std::string_view kFieldNames[] = {"Cache-Groups", "Surrogate-Key", "Cache-Tag", "xkey"};
constexpr std::string_view kIgnoredNames[] = {"invalid", "too_many", "too_long"};

// A group of an alias field: visible ASCII only (no space, no control, nothing past 0x7e), so
// that what the index, the page's groups block and the admin port's JSON hold is plain.
bool visibleToken(std::string_view t) {
    return std::all_of(t.begin(), t.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Collects groups up to the bounds, once each.
class Collector {
public:
    Collector(std::string &out, GroupTally &tally) : out_(out), tally_(tally) {}
    void offer(std::string_view g) {
        if (g.empty())
            return;
        if (g.size() > kMaxGroupLength)
            return tally_.add(GroupIgnored::TooLong);
        for (std::string_view have : seen_)
            if (have == g)
                return;
        if (seen_.size() == kMaxGroups)
            return tally_.add(GroupIgnored::TooMany);
        seen_.emplace_back(g);
    }
    void finish() {
        for (const auto &g : seen_) {
            out_.append(g);
            out_.push_back('\n');
        }
    }

private:
    std::string &out_;
    GroupTally &tally_;
    std::vector<std::string> seen_;
};

// Every line of `name`, joined as RFC 9110 §5.3 combines them (a list field: with ", "; the
// space-separated aliases: with a space).
std::string joinedLines(const http::HeaderList &headers, std::string_view name, bool &present,
                        std::string_view sep = ", ") {
    std::string joined;
    present = false;
    headers.forEach([&](std::string_view n, std::string_view v) {
        if (!http::equalsIgnoreCase(n, name))
            return;
        if (present)
            joined += sep;
        joined.append(v);
        present = true;
    });
    return joined;
}

// An RFC 8941 List of Strings (RFC 9875 §2, §3): the strings offered; a field that does not
// parse is ignored whole, a member that is not a String on its own.
void readStringList(std::string_view value, Collector &c, GroupTally &tally) {
    std::vector<std::string> strings;
    std::size_t others = 0;
    if (!http::sf::parseStringList(value, strings, others))
        return tally.add(GroupIgnored::Invalid);
    tally.add(GroupIgnored::Invalid, others);
    for (const auto &s : strings)
        c.offer(s);
}

// Surrogate-Key, xkey: tokens separated by white space; Cache-Tag: by commas (white space
// around each trimmed).
void readTokens(std::string_view value, bool commas, Collector &c, GroupTally &tally) {
    auto sep = [commas](char ch) { return commas ? ch == ',' : (ch == ' ' || ch == '\t'); };
    std::size_t i = 0;
    while (i < value.size()) {
        while (i < value.size() && sep(value[i]))
            ++i;
        std::size_t start = i;
        while (i < value.size() && !sep(value[i]))
            ++i;
        std::string_view t = http::trimOws(value.substr(start, i - start));
        if (t.empty())
            continue;
        if (!visibleToken(t)) {
            tally.add(GroupIgnored::Invalid);
            continue;
        }
        c.offer(t);
    }
}

} // namespace

std::string_view groupFieldName(GroupField f) {
    return kFieldNames[static_cast<int>(f)];
}

bool groupFieldByName(std::string_view name, GroupField &out) {
    for (int i = 0; i < 4; ++i)
        if (http::equalsIgnoreCase(name, kFieldNames[i])) {
            out = static_cast<GroupField>(i);
            return true;
        }
    return false;
}

std::string_view groupIgnoredName(int reason) {
    return reason >= 0 && reason < kGroupIgnoredReasons ? kIgnoredNames[reason] : "";
}

void takeGroups(const GroupFieldsConfig &cfg, http::HeaderList &headers, std::string &groups,
                GroupTally &tally) {
    groups.clear();
    Collector c(groups, tally);
    for (GroupField f : cfg.fields) {
        bool present = false;
        const bool spaces = f == GroupField::SurrogateKey || f == GroupField::Xkey;
        const std::string value =
            joinedLines(headers, groupFieldName(f), present, spaces ? " " : ", ");
        if (!present)
            continue;
        if (f == GroupField::CacheGroups)
            readStringList(value, c, tally);
        else
            readTokens(value, f == GroupField::CacheTag, c, tally);
        if (f != GroupField::CacheGroups && !cfg.forwardAliases)
            headers.remove(groupFieldName(f));
    }
    c.finish();
}

bool invalidationGroups(const http::HeaderList &headers, std::string_view field,
                        std::vector<std::string> &out, GroupTally &tally) {
    out.clear();
    bool present = false;
    const std::string value = joinedLines(headers, field, present);
    if (!present)
        return false;
    std::vector<std::string> strings;
    std::size_t others = 0;
    if (!http::sf::parseStringList(value, strings, others)) {
        tally.add(GroupIgnored::Invalid);
        return false;
    }
    tally.add(GroupIgnored::Invalid, others);
    std::string joined;
    Collector c(joined, tally);
    for (const auto &s : strings)
        c.offer(s);
    c.finish();
    forEachGroup(joined, [&](std::string_view g) {
        if (!g.empty())
            out.emplace_back(g);
    });
    return true;
}

bool invalidatesGroups(std::string_view method, int status) {
    const bool safe =
        method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
    return !safe && status >= 200 && status < 400;
}

std::string_view pageHost(std::string_view uri) {
    const http::TargetParts t = http::splitTarget(uri);
    return t.absolute() ? t.authority : std::string_view();
}

namespace {
// Hosts are indexed and matched in lower case (DNS names are case-insensitive), at most
// kMaxHostLength bytes: a page whose Host is longer is not indexed (a client-chosen Host cannot
// multiply what one page costs the index).
constexpr std::size_t kMaxHostLength = kMaxIndexedHost;
struct LowerHost {
    char buf[kMaxHostLength];
    std::size_t len = 0;
    bool ok = true;
    explicit LowerHost(std::string_view h) {
        ok = h.size() <= kMaxHostLength;
        len = ok ? h.size() : 0;
        for (std::size_t i = 0; i < len; ++i)
            buf[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(h[i])));
    }
    std::string_view view() const { return {buf, len}; }
};
} // namespace

// --- the index -------------------------------------------------------------------------------

std::size_t GroupIndex::linked(Item &it) noexcept {
    const std::string_view v = it.value();
    if (v.size() < 4 || v.compare(0, 4, "FCP4") != 0) // only FCP4 pages have groups
        return 0;
    PageView page;
    if (!decodePage(v, page) || page.groups.empty())
        return 0;
    const LowerHost lower(pageHost(page.uri));
    if (!lower.ok)
        return 0;
    const std::string_view host = lower.view();
    std::size_t charge = 0;
    forEachGroup(page.groups, [&](std::string_view g) {
        if (g.empty())
            return;
        add(g, host, &it);
        charge += kEntryBytes + g.size() + host.size();
    });
    return charge;
}

std::size_t GroupIndex::unlinked(Item &it) noexcept {
    PageView page;
    if (!decodePage(it.value(), page))
        return 0; // not reached: linked() decoded the same bytes
    const LowerHost lower(pageHost(page.uri));
    if (!lower.ok)
        return 0; // not reached: linked() refused the same bytes
    const std::string_view host = lower.view();
    std::size_t charge = 0;
    forEachGroup(page.groups, [&](std::string_view g) {
        if (g.empty())
            return;
        drop(g, host, &it);
        charge += kEntryBytes + g.size() + host.size();
    });
    return charge;
}

void GroupIndex::flushed(std::uint64_t flushCas) noexcept {
    for (Shard &s : shards_) {
        std::lock_guard lock(s.mu);
        for (auto g = s.groups.begin(); g != s.groups.end();) {
            for (auto h = g->second.begin(); h != g->second.end();) {
                const std::size_t dead = std::erase_if(h->second, [&](const Item *it) {
                    return it->cas.load(std::memory_order_relaxed) < flushCas;
                });
                entries_.fetch_sub(dead, std::memory_order_relaxed);
                if (h->second.empty()) {
                    h = g->second.erase(h);
                    pairs_.fetch_sub(1, std::memory_order_relaxed);
                } else {
                    ++h;
                }
            }
            g = g->second.empty() ? s.groups.erase(g) : std::next(g);
        }
    }
}

void GroupIndex::add(std::string_view group, std::string_view host, Item *it) {
    Shard &s = shardOf(group);
    std::lock_guard lock(s.mu);
    auto g = s.groups.find(group);
    if (g == s.groups.end())
        g = s.groups.emplace(std::string(group), Shard::Hosts()).first;
    auto h = g->second.find(host);
    if (h == g->second.end()) {
        h = g->second.emplace(std::string(host), std::unordered_set<Item *>()).first;
        pairs_.fetch_add(1, std::memory_order_relaxed);
    }
    if (h->second.insert(it).second)
        entries_.fetch_add(1, std::memory_order_relaxed);
}

void GroupIndex::drop(std::string_view group, std::string_view host, Item *it) {
    Shard &s = shardOf(group);
    std::lock_guard lock(s.mu);
    auto g = s.groups.find(group);
    if (g == s.groups.end())
        return; // flushed since
    auto h = g->second.find(host);
    if (h == g->second.end() || h->second.erase(it) == 0)
        return;
    entries_.fetch_sub(1, std::memory_order_relaxed);
    if (!h->second.empty())
        return;
    g->second.erase(h);
    pairs_.fetch_sub(1, std::memory_order_relaxed);
    if (g->second.empty())
        s.groups.erase(g);
}

std::vector<ItemRef> GroupIndex::pages(std::string_view group, std::string_view host) const {
    std::vector<ItemRef> out;
    const LowerHost lower(host);
    if (!lower.ok)
        return out; // no page is indexed under such a host
    Shard &s = shardOf(group);
    std::lock_guard lock(s.mu);
    auto g = s.groups.find(group);
    if (g == s.groups.end())
        return out;
    // Linked items: the store's reference keeps them alive while their entry is here (an unlink
    // drops the entry under this lock before the store lets go).
    auto take = [&](const std::unordered_set<Item *> &items) {
        out.reserve(out.size() + items.size());
        for (Item *it : items) {
            retainItem(it);
            out.emplace_back(it);
        }
    };
    if (host.empty()) {
        for (const auto &[name, items] : g->second)
            take(items);
    } else if (auto h = g->second.find(lower.view()); h != g->second.end()) {
        take(h->second);
    }
    return out;
}

std::vector<GroupIndex::GroupCount> GroupIndex::top(std::size_t n) const {
    std::vector<GroupCount> all;
    for (const Shard &s : shards_) {
        std::lock_guard lock(s.mu);
        for (const auto &[group, hosts] : s.groups)
            for (const auto &[host, items] : hosts)
                all.push_back({group, host, items.size()});
    }
    auto most = [](const GroupCount &a, const GroupCount &b) {
        return a.pages != b.pages ? a.pages > b.pages
                                  : std::tie(a.host, a.group) < std::tie(b.host, b.group);
    };
    if (all.size() > n) {
        std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                          most);
        all.resize(n);
    } else {
        std::sort(all.begin(), all.end(), most);
    }
    return all;
}

void GroupIndex::notePurged(std::string_view group, std::string_view host, std::int64_t now) {
    const LowerHost lower(host);
    if (!lower.ok)
        return; // no page is indexed, nor taken from the cluster as indexed, under such a host
    std::string key(lower.view());
    key.push_back('\n');
    key.append(group);
    std::lock_guard lock(tombMu_);
    if (tombstones_.size() >= kMaxTombstones && !tombstones_.contains(key)) {
        for (const auto &[k, when] : tombstones_)
            forgottenBefore_ = std::max(forgottenBefore_, when);
        tombstones_.clear();
    }
    std::int64_t &when = tombstones_[key];
    when = std::max(when, now);
}

bool GroupIndex::purgedSince(std::string_view groups, std::string_view uri,
                             std::int64_t storedAt) const {
    if (groups.empty())
        return false;
    const LowerHost lower(pageHost(uri));
    std::lock_guard lock(tombMu_);
    if (storedAt < forgottenBefore_)
        return true;
    if (tombstones_.empty())
        return false;
    bool purged = false;
    std::string key;
    forEachGroup(groups, [&](std::string_view g) {
        for (std::string_view host : {std::string_view(), lower.view()}) {
            if (purged || (!host.empty() && !lower.ok))
                continue;
            key.assign(host);
            key.push_back('\n');
            key.append(g);
            auto it = tombstones_.find(key);
            purged = it != tombstones_.end() && storedAt < it->second;
        }
    });
    return purged;
}

// --- the purge -------------------------------------------------------------------------------

GroupPurgeResult purgeGroups(Store &store, GroupIndex &index, const PolicyConfig &cfg,
                             const std::vector<std::string> &groups, std::string_view host,
                             bool soft, std::int64_t now, std::vector<std::string> *removedKeys) {
    GroupPurgeResult r;
    std::unordered_set<std::string> uris;  // of the pages removed: their header keys go too (hard)
    std::unordered_set<const Item *> seen; // a page in two of the groups is purged once
    std::vector<ItemRef> held; // ... each held to the end, so no address in `seen` is reused
    for (const auto &group : groups) {
        index.notePurged(group, host, now);
        for (ItemRef &ref : index.pages(group, host)) {
            PageView v;
            if (!seen.insert(ref.get()).second || !decodePage(ref->value(), v))
                continue;
            if (soft && v.grace > 0) {
                if (softExpire(store, ref, now)) { // a page replaced meanwhile is left alone
                    ++r.expired;
                    if (removedKeys)
                        removedKeys->emplace_back(ref->key());
                }
                held.push_back(std::move(ref));
                continue;
            }
            if (store.removeExact(*ref)) { // not expired, replaced or purged already
                ++r.removed;
                if (removedKeys)
                    removedKeys->emplace_back(ref->key());
                if (!soft)
                    uris.emplace(v.uri);
            }
            held.push_back(std::move(ref));
        }
    }
    removeHeaderKeys(store, cfg, std::vector<std::string>(uris.begin(), uris.end()), removedKeys);
    return r;
}

} // namespace fc::cache
