#include "proxy/page_fill.h"

#include <cstring>
#include <vector>

#include "cache/reuse.h"
#include "http/date.h"
#include "http/rewrite.h"
#include "proxy/shared_cache.h"
#include "proxy/worker.h"

namespace fc::proxy {

void PageFill::releaseLock(std::int64_t passSeconds) {
    if (!ownsLock_)
        return;
    ownsLock_ = false;
    std::vector<cache::WaiterId> wake;
    worker_.cache().locks->release(lockKey_, passSeconds, wake);
    if (passSeconds > 0)
        worker_.counters().inc(worker_.counters().passMarked);
    worker_.wakeWaiters(wake);
}

void PageFill::reset() {
    storing_ = false;
    notStored_ = cache::NotStored::None;
    for (std::string *b : {&body_, &head_})
        if (b->capacity() > 4096)
            std::string().swap(*b);
}

void PageFill::notStored(cache::NotStored why) {
    notStored_ = why;
    auto &c = worker_.counters();
    c.inc(c.notStored[static_cast<int>(why)]);
}

bool PageFill::plan(const http::RequestHead &req, http::ResponseHead &resp, bool isHead) {
    const CacheContext &cc = worker_.cache();
    storing_ = false;
    cache::StoreDecision d = cache::decideStore(req, resp.status, resp.headers, cc.policy);
    vary_.clear();
    if (d.reason == cache::NotStored::None && !cache::varyHeaderList(resp.headers, vary_))
        d.reason = cache::NotStored::VaryStar;
    if (d.reason == cache::NotStored::None && resp.contentLength >= 0 && !isHead &&
        static_cast<std::uint64_t>(resp.contentLength) > cc.policy.maxObjectSize)
        d.reason = cache::NotStored::TooBig;
    if (d.reason != cache::NotStored::None) {
        notStored(d.reason);
        releaseLock(cache::marksPass(d.reason, resp.status) ? cc.hitForMissSeconds : 0);
        return false;
    }
    decision_ = d;
    cache::patchResponseHeaders(resp.headers, d.ttl, cc.clock->now());
    resp.headers.remove("age"); // our Age is computed from the time we stored it
    storing_ = true;
    head_.clear();
    // A HEAD response keeps the Content-Length the upstream announced for the GET.
    http::writeResponseHead(resp, !isHead, "1.1 frontcache", head_);
    if (!isHead)
        head_.append("Content-Length: "); // the number follows at commit()
    auto etag = resp.headers.get("etag");
    etag_.assign(etag ? *etag : std::string_view());
    auto lm = resp.headers.get("last-modified");
    auto lmt = lm ? http::parseHttpDate(*lm) : std::nullopt;
    lastModified_ = lmt ? *lmt : 0;
    body_.clear();
    if (resp.contentLength > 0)
        body_.reserve(static_cast<std::size_t>(resp.contentLength));
    return true;
}

bool PageFill::append(std::string_view piece) {
    if (!storing_)
        return false;
    if (body_.size() + piece.size() > worker_.cache().policy.maxObjectSize) {
        abandon(cache::NotStored::TooBig); // streamed on, never stored
        releaseLock(worker_.cache().hitForMissSeconds);
        return false;
    }
    body_.append(piece);
    return true;
}

void PageFill::abandon(cache::NotStored why) {
    if (storing_) {
        storing_ = false;
        notStored(why);
        std::string().swap(body_);
    }
    releaseLock(0);
}

cache::ItemRef PageFill::commit(const http::RequestHead &req) {
    storing_ = false;
    if (req.method != "HEAD") {
        head_.append(std::to_string(body_.size()));
        head_.append("\r\n");
    }
    cache::ItemRef page = write(req, req.method, head_, body_);
    if (page)
        body_.clear(); // its capacity is released when the exchange finishes; kept when the
                       // store refused the page, for a response held back to be sent from it
    releaseLock(0);
    return page;
}

cache::ItemRef PageFill::renew(const http::RequestHead &req, const cache::PageView &stale,
                               const http::HeaderList &notModified) {
    const CacheContext &cc = worker_.cache();
    storing_ = false;
    cache::StoreDecision d = cache::renewStoredHead(stale.head, notModified, req, cc.policy,
                                                    cc.clock->now(), head_, vary_);
    cache::ItemRef page;
    if (d.reason == cache::NotStored::None) {
        decision_ = d;
        auto etag = notModified.get("etag");
        etag_.assign(etag ? *etag : stale.etag);
        auto lm = notModified.get("last-modified");
        auto lmt = lm ? http::parseHttpDate(*lm) : std::nullopt;
        lastModified_ = lmt ? *lmt : stale.lastModified;
        page = write(req, "GET", head_, stale.body);
        if (page)
            worker_.counters().inc(worker_.counters().revalidated);
    } else {
        notStored(d.reason);
    }
    releaseLock(0);
    return page;
}

// learn_cache_key: the page under this request's method, then the header key, both kept for the
// TTL plus the stale windows (the page records its own freshness).
cache::ItemRef PageFill::write(const http::RequestHead &req, std::string_view method,
                               std::string_view head, std::string_view body) {
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    cache::PageView f;
    f.status = 200; // only 200 responses are stored (decideStore)
    f.storedAt = cc.clock->now();
    f.lastModified = lastModified_;
    f.ttl = static_cast<std::uint32_t>(decision_.freshFor());
    f.grace = static_cast<std::uint32_t>(decision_.grace);
    f.staleIfError = static_cast<std::uint32_t>(decision_.staleIfError);
    f.etag = etag_;
    f.uri = uri_;
    std::string varied; // what separates this variant (GET /variants)
    cache::variedValues(vary_, req.headers, varied);
    f.varied = varied;
    f.head = head;
    f.body = body;
    std::string key;
    cache::setWatchClientFd(-1); // `watch`: a store made from the upstream's response
    cache::pageKey(cc.policy, method, uri_, vary_, req.headers, key);
    const std::int64_t keep = decision_.keepFor();
    cache::ItemRef page =
        cc.store->allocate(key, 0, keep, static_cast<std::uint32_t>(cache::encodedPageSize(f)));
    if (!page) {
        notStored(cache::NotStored::TooBig);
        return page;
    }
    cache::encodePage(page->valueData(), f);
    cc.store->store(cache::StoreMode::Set, page);
    key.clear();
    cache::headerKey(cc.policy, uri_, key);
    cc.store->set(key, vary_, keep);
    counters.inc(counters.stored);
    if (cc.shared) // and in the shared cluster, for the other instances (off the loop)
        sharedStore(worker_.loop(), *cc.shared, key, vary_, std::string(page->key()), page.share(),
                    keep, counters);
    return page;
}

} // namespace fc::proxy
