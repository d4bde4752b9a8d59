// The store side of one upstream fetch (proxy/fetch.h), for a client's fetch and a background
// refresh alike: the coalescing lock it may hold, the decision at the
// response head (UpdateCacheMiddleware.process_response), the body accumulated while it streams,
// and the page written when — and only when — the whole body arrived, with the codings it is
// served in (cache/page/compress.h). Also the 304 path that renews a stored page without its body
// (RFC 9111 §4.3.4).
//
// Codings are made once per stored copy, before the page is linked: inline when the body is at
// most kInlineCodingBytes (well under a millisecond of zlib/brotli work), else on libuv's thread
// pool — the page is then stored, and the coalescing key released, from there (commit() returns
// no page and offloaded() said so beforehand).
//
// Threading: owned by one worker's loop thread. Ownership: holds at most one key of the shared
// FetchLocks; the key is released (waking its waiters in every worker) when the outcome is
// known, or by the destructor at the latest, so a lock can never outlive its fetch. An offloaded
// store takes the key with it and releases it on the loop when the page is linked.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cache/fetch_locks.h"
#include "cache/page/page.h"
#include "cache/policy/facts.h"
#include "cache/policy/policy.h"
#include "cache/store/item.h"
#include "http/headers.h"
#include "proxy/rules.h"

namespace fc::proxy {

class Worker;

class PageFill {
public:
    explicit PageFill(Worker &worker) : worker_(worker) {}
    ~PageFill() { releaseLock(0); }
    PageFill(const PageFill &) = delete;
    PageFill &operator=(const PageFill &) = delete;

    // Releases the key if held (no-op otherwise), waking its waiters; `passSeconds` > 0 marks it
    // not storable for that long (hit-for-miss).
    void releaseLock(std::int64_t passSeconds);
    bool ownsLock() const { return ownsLock_; }
    // Takes over a coalescing key the caller claimed as Owner from FetchLocks.
    void adoptLock(std::string_view key) {
        lockKey_.assign(key);
        ownsLock_ = true;
    }

    // The absolute URI the page is stored for (set at lookup).
    std::string &uri() { return uri_; }
    // What [[rules]] add to the page key (ruleKeyExtra), and the rules the request matched:
    // their lifetimes decide with the mode's rules (adjustDecision), set before the response.
    std::string &keyExtra() { return keyExtra_; }
    RuleSet &rules() { return rules_; }
    // The rule that changed the store decision at the last plan() or renew(), or null. Valid
    // while rules() holds its config.
    const config::Rule *changedBy() const { return changedBy_; }
    // The page's cache groups (cache::takeGroups' form, "a\nb\n"), set at the response head;
    // a renewal without groups of its own keeps the stored page's.
    std::string &groups() { return groups_; }

    // At the response head of a looked-up GET/HEAD: decides, patches `resp` for the client and the
    // store, and starts accumulating. Not storable: the lock is released (marked pass when the
    // reason is a property of the page, not of this one attempt). Returns whether it stores.
    // `facts` is what `resp`'s head says, parsed once (cache/policy/facts.h).
    bool plan(const http::RequestHead &req, http::ResponseHead &resp,
              const cache::ResponseFacts &facts, bool isHead, std::int64_t requestedAt = 0);
    // A body piece. False once the body outgrew cache.max_object_size (it is then dropped).
    bool append(std::string_view piece);
    // Whether commit() will hand the body to the thread pool (it then returns no page and
    // body() is empty afterwards).
    bool offloads() const;
    // The whole body arrived: stores the page under `req`'s page key and the header key, releases
    // the lock. Returns the stored page (empty if the store refused it — body() then still holds
    // the body — or when offloaded).
    cache::ItemRef commit(const http::RequestHead &req);
    // The fetch ended without a whole body (error, reset, client and fetch abandoned).
    void abandon(cache::NotStored why);
    // A 304 answered our conditional request for `stale`: stores the renewed page under
    // `req`'s page key (GET) and returns it; empty if the merged response is no longer storable
    // (the caller then serves `stale`, which the 304 has just validated). Releases the lock.
    cache::ItemRef renew(const http::RequestHead &req, const cache::PageView &stale,
                         const http::HeaderList &notModified);

    std::string_view body() const { return body_; } // accumulated so far
    cache::NotStored notStored() const { return notStored_; }
    void reset(); // between exchanges (keeps the lock, if any, to the caller's own release)

    // Bodies up to this size get their codings on the loop (gzip-6 + brotli-6 of 16 KiB of HTML
    // take about 0.4 ms here: benchmarks/store_bench.cpp BM_Codings).
    static constexpr std::size_t kInlineCodingBytes = 16 * 1024;

private:
    struct Pending;
    std::unique_ptr<Pending> prepare(const http::RequestHead &req, std::string_view method);
    cache::ItemRef finish(Pending &p);
    void storeOffLoop(std::unique_ptr<Pending> p);
    void notStored(cache::NotStored why);
    bool needsCodings() const;

    Worker &worker_;
    std::string lockKey_;
    bool ownsLock_ = false;
    bool storing_ = false;
    cache::NotStored notStored_ = cache::NotStored::None;
    cache::StoreDecision decision_;
    std::int64_t lastModified_ = 0;
    std::string uri_;
    std::string keyExtra_;
    RuleSet rules_;
    const config::Rule *changedBy_ = nullptr;
    std::string groups_; // RFC 9875 cache groups, stored in the page (cache/groups.h)
    std::string vary_;   // the response's Vary list, Django's form
    std::string head_;   // the head to store (without Content-Length until commit)
    std::string etag_;
    std::string body_;
    bool isHead_ = false;
    cache::TransformPlan transform_; // what the body's codings will be
};

} // namespace fc::proxy
