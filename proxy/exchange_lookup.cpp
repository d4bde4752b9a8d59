// The exchange's lookup steps: the store as the lookup chain's source, a hit, a miss (the shared
// cluster, grace, coalescing), and the waits they start. Split from exchange.cpp to keep each
// file readable; see proxy/exchange.h.
#include "cache/policy/http.h"
#include "cache/policy/keys.h"
#include "cache/policy/lookup.h"
#include "common/log.h"
#include "proxy/client.h"
#include "proxy/exchange.h"
#include "proxy/shared_cache.h"
#include "proxy/worker.h"

namespace fc::proxy {

// --- lookup -------------------------------------------------------------------------------------

namespace {
// The in-process store as the lookup chain's source (cache/policy/lookup.h): the Vary list item
// stays referenced while its value is in use; a page that is fresh — or that the fetch this request
// waited for stored or renewed, fresh or not (a no-cache page is never fresh, but it was
// validated on our behalf just now: collapsed forwarding, RFC 9111 §4) — is the answer; an
// expired GET page is kept as the stale copy.
struct StoreSource {
    const CacheContext &cc;
    std::int64_t now;
    const cache::RequestDirectives &rd;
    bool waited;              // this request waited for another's fetch...
    std::int64_t waitStarted; // ... from then
    cache::ItemRef varyItem, hit, stale;
    bool staleWasFresh = false; // passed over for the request's own directives
    std::optional<std::string_view> vary(std::string_view key) {
        varyItem = cc.store->get(key);
        if (!varyItem)
            return std::nullopt;
        return varyItem->value();
    }
    bool page(std::string_view method, std::string_view key) {
        cache::ItemRef page = cc.store->get(key);
        cache::PageView view;
        if (!page || !cache::decodePage(page->value(), view))
            return false;
        if (cache::answersRequest(cc.policy, view, rd, now) ||
            (waited && view.storedAt >= waitStarted)) {
            hit = std::move(page);
            return true;
        }
        if (method == "GET") {
            stale = std::move(page);
            staleWasFresh = view.fresh(now);
        }
        return false;
    }
};
} // namespace

// FetchFromCacheMiddleware.process_request: header key -> Vary list -> page key -> page
// (cache/policy/lookup.h). A fresh page is served; otherwise the request misses (missed()).
void Exchange::lookup() {
    setStep(Step::Lookup);
    const CacheContext &cc = worker_.cache();
    http::RequestHead &h = head();
    uri_.clear();
    cache::absoluteUri(h, cc.policy, uri_, req_.https ? "https" : "http", req_.queryInKey);
    // Http mode: what the request says about reusing a stored response (§5.2.1).
    const cache::RequestDirectives rd = cache::requestDirectives(h.headers, cc.policy);
    StoreSource src{cc, cc.clock->now(), rd, req_.waitedForFill, waitStartedAt_, {}, {}, {}};
    auto vary = cache::lookupChain(cc.policy, uri_, h.headers, req_.isHead, key_, src, keyExtra_);
    stale_ = std::move(src.stale);
    if (src.hit) {
        if (req_.waitedForFill)
            worker_.counters().inc(worker_.counters().coalescedWakeHits);
        deliverPage(std::move(src.hit), CacheStatus::Hit);
        return;
    }
    // RFC 9211 fwd: nothing for the URI, no variant for this request, a stale copy, or a stored
    // copy the request's own directives would not take.
    req_.fwdReason = !vary               ? "uri-miss"
                     : !stale_           ? "vary-miss"
                     : src.staleWasFresh ? "request"
                                         : "stale";
    // §5.2.1.7: only-if-cached and nothing usable stored: 504, the origin untouched.
    if (rd.onlyIfCached) {
        stale_.reset();
        deliverError(504, "only-if-cached: not in the cache");
        return;
    }
    // Not served fresh (computed only now, so that hits copy no key).
    cache::coalescingKey(cc.policy, uri_, vary, h.headers, lockKey_, keyExtra_);
    src.varyItem.reset();
    // A client that asked for validation (no-cache, max-age, min-fresh) is not given a stale
    // copy while the refresh runs.
    missed(rd.noCache || rd.maxAge || rd.minFresh);
}

// A miss: the shared cluster, a stale copy in its grace (one background refresh), a fetch in
// flight to wait for (coalescing), or a fetch of its own.
void Exchange::missed(bool clientWantsValidation) {
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    // Another instance may have stored it in the shared cluster. Asked once per request, before
    // coalescing (a waiter woken later looks here only), and not for a page just found not
    // storable (hit-for-miss: the cluster will not have it either).
    if (cc.shared && !req_.askedShared && !req_.waitedForFill && !cc.locks->passing(lockKey_)) {
        askShared();
        return;
    }
    if (stale_ && !clientWantsValidation) {
        cache::PageView view;
        if (cache::decodePage(stale_->value(), view) && view.inGrace(cc.clock->now())) {
            Fetch::startRefresh(worker_, head(), uri_, lockKey_, stale_.share(), forwardInfo(),
                                ruleSet(), keyExtra_);
            cache::ItemRef page = std::move(stale_);
            deliverPage(std::move(page), CacheStatus::StaleWhileRevalidate);
            return;
        }
    }
    if (overBudget())
        return; // [limits]: answered from the stale copy, or 429
    if (!cc.coalesce || req_.waitedForFill) {
        startFetch(false);
        return;
    }
    const std::uint64_t id = worker_.addLockWaiter(&conn_);
    const cache::WaiterId me{worker_.index(), id};
    // A HEAD waits for a GET fetch in flight (it is then answered from the GET's page), but
    // never holds the key itself: what a HEAD fetch stores is of no use to GET waiters.
    const auto claim = cc.locks->claim(lockKey_, &me, !req_.isHead);
    if (claim != cache::FetchLocks::Claim::Wait) {
        worker_.removeLockWaiter(id); // the fetcher (Owner), or not coalesced (Busy, Pass)
        startFetch(claim == cache::FetchLocks::Claim::Owner);
        return;
    }
    waiterId_ = id;
    waitStartedAt_ = cc.clock->now();
    req_.cacheStatus = CacheStatus::Miss;
    counters.inc(counters.coalescedWaits);
    setStep(Step::WaitFill);
    conn_.startTimer(ClientConnection::TimerMode::LockWait, cc.lockTimeout);
}

void Exchange::askShared() {
    const CacheContext &cc = worker_.cache();
    req_.askedShared = true;
    stale_.reset();
    setStep(Step::SharedLookup);
    sharedToken_ = std::make_shared<Exchange *>(this);
    sharedLookup(worker_.loop(), *cc.shared, cc.policy, uri_, head().headers, keyExtra_,
                 [token = sharedToken_](SharedLookupResult &r) {
                     if (*token) // null once the connection closed
                         (*token)->onSharedLookup(r);
                 });
}

// The shared cluster answered. A page newer than ours goes into the in-process store (for the
// time it has left), then the lookup runs again here: a hit now, or on to the miss path.
void Exchange::onSharedLookup(SharedLookupResult &r) {
    sharedToken_.reset();
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    cache::PageView remote;
    bool taken = false;
    if (r.error) {
        counters.inc(counters.sharedErrors);
        FC_DEBUG("shared cache: lookup failed: %s", cc.shared->lastError().c_str());
    } else if (r.found && cache::decodePage(r.page, remote) &&
               !(cc.groups && cc.groups->purgedSince(remote.groups, remote.uri, remote.storedAt))) {
        const std::int64_t now = cc.clock->now();
        const std::int64_t keep =
            remote.freshUntil() + std::max(remote.grace, remote.staleIfError) - now;
        cache::PageView local;
        cache::ItemRef mine = cc.store->get(r.pageKey);
        const bool newer =
            !mine || !cache::decodePage(mine->value(), local) || remote.storedAt > local.storedAt;
        if (keep > 0 && newer && cc.store->set(r.pageKey, r.page, cache::Lifetime{keep}) &&
            cc.store->set(r.headerKey, r.varyList, cache::Lifetime{keep}))
            taken = remote.fresh(now);
    }
    counters.inc(taken ? counters.sharedHits : counters.sharedMisses);
    lookup();
}

void Exchange::stopWaiting() {
    if (step_ != Step::WaitFill)
        return;
    worker_.cache().locks->cancel(lockKey_, cache::WaiterId{worker_.index(), waiterId_});
    worker_.removeLockWaiter(waiterId_);
}

void Exchange::onLockTimeout() {
    worker_.counters().inc(worker_.counters().lockTimeouts);
    stopWaiting();
    onLockReleased();
}

void Exchange::onLockReleased() {
    if (step_ != Step::WaitFill)
        return;
    conn_.stopTimer(ClientConnection::TimerMode::LockWait);
    req_.waitedForFill = true; // one wait per request: a miss now fetches for itself
    lookup();
}

} // namespace fc::proxy
