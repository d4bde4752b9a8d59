#include "proxy/page_fill.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cache/policy/http.h"
#include "cache/policy/keys.h"
#include "cache/policy/reuse.h"
#include "cache/store/watch.h"
#include "http/cache_control.h"
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

// Everything one page write needs, owned, so it can run on the loop or on the thread pool:
// prepared on the loop, built (codings made, page linked) anywhere, finished on the loop.
struct PageFill::Pending {
    Worker *worker = nullptr;
    cache::Store *store = nullptr;
    cache::PageView meta; // the scalar fields
    std::string etag, uri, varied, groups, vary, baseHead, pageKey, headerKey;
    std::int64_t keep = 0;
    // Either the origin's body and what to make of it...
    bool transform = false;
    cache::TransformPlan plan;
    cache::CompressConfig compress;
    std::string body;
    std::vector<cache::Representation> made;
    // ... or representations given as they are (a renewal reuses the stored bodies).
    cache::PageRepresentation given[cache::kMaxRepresentations];
    std::size_t givenCount = 0;
    bool needsIdentity = false; // varies on Accept-Encoding: one entry serves every client
    // The outcome.
    cache::ItemRef page;
    cache::NotStored failure = cache::NotStored::None;
    // An offloaded write carries the coalescing key and releases it when done.
    std::string lockKey;
    bool ownsLock = false;
    uv_work_t work{};

    // Off the loop when offloaded: makes the codings, links the page and its header key.
    void build();
};

void PageFill::Pending::build() {
    if (transform) {
        made = cache::transformBody(plan, compress, std::move(body));
        givenCount = std::min(made.size(), cache::kMaxRepresentations);
        for (std::size_t i = 0; i < givenCount; ++i)
            given[i] = {made[i].coding, {}, made[i].body};
    }
    bool identity = false;
    for (std::size_t i = 0; i < givenCount; ++i)
        identity |= given[i].coding == http::Coding::Identity;
    if (needsIdentity && !identity) {
        failure = cache::NotStored::Coding; // e.g. a corrupt gzip body: nobody could be served
        return;
    }
    std::string heads[cache::kMaxRepresentations];
    cache::PageView f = meta;
    f.etag = etag;
    f.uri = uri;
    f.varied = varied;
    f.groups = groups;
    auto encodeAs = [&](std::size_t n) {
        f.repCount = static_cast<std::uint8_t>(n);
        for (std::size_t i = 0; i < n; ++i) {
            f.reps[i] = given[i];
            if (n == 1) { // sent as stored, to everyone
                f.reps[i].head = baseHead;
                if (f.reps[i].coding != http::Coding::Identity)
                    f.reps[i].coding = http::Coding::AsStored;
            } else {
                cache::representationHead(baseHead, given[i].coding, i > 0, given[i].body.size(),
                                          heads[i]);
                f.reps[i].head = heads[i];
            }
        }
        return static_cast<std::uint32_t>(cache::encodedPageSize(f));
    };
    cache::setWatchClientFd(-1); // `watch`: a store made from the upstream's response
    std::uint32_t size = encodeAs(givenCount);
    page = store->allocate(pageKey, 0, cache::Lifetime{keep}, size);
    if (!page && givenCount > 1 && !needsIdentity) { // the codings made it too big: origin's only
        size = encodeAs(1);
        page = store->allocate(pageKey, 0, cache::Lifetime{keep}, size);
    }
    if (!page) {
        failure = cache::NotStored::TooBig;
        return;
    }
    cache::encodePage(page->valueData(), f);
    store->store(cache::StoreMode::Set, page);
    store->set(headerKey, vary, cache::Lifetime{keep});
}

bool PageFill::plan(const http::RequestHead &req, http::ResponseHead &resp,
                    const cache::ResponseFacts &facts, bool isHead, std::int64_t requestedAt) {
    const CacheContext &cc = worker_.cache();
    storing_ = false;
    const std::int64_t now = cc.clock->now();
    const cache::ExchangeTimes times{requestedAt ? requestedAt : now, now};
    cache::StoreDecision d = cache::decideStore(req, facts, cc.policy, times);
    changedBy_ = nullptr;
    if (rules_) // [[rules]]: status_ttl, ttl, grace, stale_if_error
        changedBy_ = adjustDecision(ruleTtl(rules_.rules(), rules_.mask, resp.status), facts, d,
                                    [&](int status) {
                                        cache::ResponseFacts as = facts;
                                        as.status = status;
                                        return cache::decideStore(req, as, cc.policy, times);
                                    });
    vary_.assign(facts.varyList); // decideStore refused Vary: * already
    if (d.reason == cache::NotStored::None && resp.contentLength >= 0 && !isHead &&
        static_cast<std::uint64_t>(resp.contentLength) > cc.policy.maxObjectSize)
        d.reason = cache::NotStored::TooBig;
    // The codings (cache/page/compress.h): an identity body of a compressible type gets them; a
    // coded one gets its identity form. A page varying on Accept-Encoding is one entry for every
    // client (cache::pageKey), so it is stored only if identity can be served from it.
    transform_ = {};
    transform_.maxOut = cc.policy.maxObjectSize;
    transform_.source = facts.contentEncoding.value_or(http::Coding::AsStored);
    const bool mayTransform = !isHead && !facts.cacheControl.noTransform;
    if (transform_.source == http::Coding::Identity)
        transform_.compress =
            mayTransform && !cc.policy.compress.codings.empty() &&
            cache::compressibleType(facts.contentType
                                        ? std::optional<std::string_view>(*facts.contentType)
                                        : std::nullopt,
                                    cc.policy.compress.types);
    else
        transform_.decode = mayTransform && transform_.source != http::Coding::AsStored;
    if (d.reason == cache::NotStored::None && transform_.source != http::Coding::Identity &&
        !transform_.decode && vary_.find("HTTP_ACCEPT_ENCODING") != std::string::npos)
        d.reason = cache::NotStored::Coding;
    if (d.reason != cache::NotStored::None) {
        notStored(d.reason);
        releaseLock(cache::marksPass(d.reason, resp.status) ? cc.hitForMissSeconds : 0);
        return false;
    }
    // Fields the shared copy must not keep (private="...", no-cache="..."): copied before the
    // header list changes (its views would dangle).
    std::string omit(d.omitFields);
    omit.push_back(',');
    omit.append(d.omitFields2);
    omit.push_back(',');
    omit.append(cache::storedCopyOmits(cc.policy));
    d.omitFields = d.omitFields2 = {};
    decision_ = d;
    isHead_ = isHead;
    cache::patchStoredResponse(cc.policy, resp.headers, d.ttl, now);
    storing_ = true;
    head_.clear();
    // A HEAD response keeps the Content-Length the upstream announced for the GET.
    http::writeResponseHead(resp, !isHead, "1.1 frontcache", head_);
    // private="..." / no-cache="...": those fields are not kept in the shared copy; nor is what
    // the mode leaves out of every stored copy (cache::storedCopyOmits).
    cache::removeFields(head_, omit);
    if (!isHead)
        head_.append("Content-Length: "); // the number follows at commit()
    etag_.assign(facts.etag);
    lastModified_ = facts.lastModified.value_or(0);
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

// Codings are made when the body is coded (its identity form), or is compressible and at least
// cache.compress_min_size.
bool PageFill::needsCodings() const {
    return transform_.decode ||
           (transform_.compress && body_.size() >= worker_.cache().policy.compress.minSize);
}

bool PageFill::offloads() const {
    return storing_ && needsCodings() && body_.size() > kInlineCodingBytes;
}

cache::ItemRef PageFill::commit(const http::RequestHead &req) {
    const bool offload = offloads();
    storing_ = false;
    if (!isHead_) {
        head_.append(std::to_string(body_.size()));
        head_.append("\r\n");
    }
    std::unique_ptr<Pending> p = prepare(req, req.method);
    p->transform = needsCodings();
    p->plan = transform_;
    p->needsIdentity = transform_.source != http::Coding::Identity &&
                       p->vary.find("HTTP_ACCEPT_ENCODING") != std::string::npos;
    if (p->transform) {
        p->compress = worker_.cache().policy.compress;
        p->body = std::move(body_); // the page is built from it; body_ is empty from here
    } else {
        p->given[0] = {transform_.source, {}, body_};
        p->givenCount = 1;
    }
    if (offload) {
        storeOffLoop(std::move(p));
        return {};
    }
    p->build();
    cache::ItemRef page = finish(*p);
    if (page)
        body_.clear(); // its capacity is released when the exchange finishes; kept when the
                       // store refused the page, for a response held back to be sent from it
    else if (p->transform && !p->made.empty())
        body_ = std::move(p->made[0].body);
    releaseLock(0);
    return page;
}

cache::ItemRef PageFill::renew(const http::RequestHead &req, const cache::PageView &stale,
                               const http::HeaderList &notModified) {
    const CacheContext &cc = worker_.cache();
    storing_ = false;
    cache::StoreDecision d = cache::renewStoredHead(stale.head, notModified, req, cc.policy,
                                                    cc.clock->now(), head_, vary_);
    changedBy_ = nullptr;
    if (rules_ && d.reason == cache::NotStored::None) {
        // The rules' lifetimes hold for renewals, decided from the renewed head as a whole.
        http::HeaderList merged;
        http::forEachHeadField(head_, [&](std::string_view n, std::string_view v,
                                          std::string_view) { merged.add(n, v); });
        changedBy_ = adjustDecision(ruleTtl(rules_.rules(), rules_.mask, d.status),
                                    cache::responseFacts(d.status, -1, merged, cc.policy), d,
                                    [&](int) { return d; });
    }
    cache::ItemRef page;
    if (d.reason == cache::NotStored::None) {
        decision_ = d;
        auto etag = notModified.get("etag");
        etag_.assign(etag ? *etag : stale.etag);
        auto lm = notModified.get("last-modified");
        auto lmt = lm ? http::parseHttpDate(*lm) : std::nullopt;
        lastModified_ = lmt ? *lmt : stale.lastModified;
        if (groups_.empty()) // the 304 declared none: the page keeps its groups
            groups_.assign(stale.groups);
        std::unique_ptr<Pending> p = prepare(req, "GET");
        // The stored bodies, each coding kept; their heads are derived from the renewed one.
        p->givenCount = stale.repCount;
        for (std::size_t i = 0; i < stale.repCount; ++i)
            p->given[i] = {stale.reps[i].coding, {}, stale.reps[i].body};
        p->build();
        page = finish(*p);
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
std::unique_ptr<PageFill::Pending> PageFill::prepare(const http::RequestHead &req,
                                                     std::string_view method) {
    const CacheContext &cc = worker_.cache();
    // cache.max_ttl: what the store keeps (the response as sent keeps its own lifetime).
    const cache::StoreDecision d = decision_.capped(cc.policy.maxTtl);
    auto p = std::make_unique<Pending>();
    p->worker = &worker_;
    p->store = cc.store;
    p->meta.status = d.status; // django mode: 200 only
    p->meta.storedAt = cc.clock->now();
    p->meta.initialAge = static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(d.initialAge, 0, std::int64_t{1} << 30));
    p->meta.lastModified = lastModified_;
    p->meta.ttl = static_cast<std::uint32_t>(d.freshFor());
    p->meta.grace = static_cast<std::uint32_t>(d.grace);
    p->meta.staleIfError = static_cast<std::uint32_t>(d.staleIfError);
    p->etag = etag_;
    p->uri = uri_;
    p->groups = groups_;
    p->vary = vary_;
    cache::variedValues(vary_, req.headers, p->varied); // what separates this variant
    p->baseHead = head_;
    cache::pageKey(cc.policy, method, uri_, vary_, req.headers, p->pageKey, keyExtra_);
    cache::headerKey(cc.policy, uri_, p->headerKey);
    p->keep = d.keepFor();
    return p;
}

// On the loop, after build(): counted, and copied to the shared cluster.
cache::ItemRef PageFill::finish(Pending &p) {
    auto &counters = worker_.counters();
    if (!p.page) {
        notStored(p.failure);
        return {};
    }
    counters.inc(counters.stored);
    for (const auto &r : p.made)
        if (&r != &p.made.front())
            counters.inc(counters.codingsMade[static_cast<int>(r.coding)]);
    const CacheContext &cc = worker_.cache();
    if (cc.shared) // and in the shared cluster, for the other instances (off the loop)
        sharedStore(worker_.loop(), *cc.shared, std::move(p.headerKey), std::move(p.vary),
                    std::string(p.page->key()), p.page.share(), p.keep, counters);
    return std::move(p.page);
}

// A large body's codings are made on libuv's thread pool; the page is linked there (the store
// is shared by every thread) and the coalescing key, which goes with it, is released back on
// the loop — waiters then find the page with every coding.
void PageFill::storeOffLoop(std::unique_ptr<Pending> p) {
    p->lockKey = std::move(lockKey_);
    p->ownsLock = std::exchange(ownsLock_, false);
    p->work.data = p.get();
    worker_.counters().inc(worker_.counters().codingsOffloaded);
    int rc = uv_queue_work(
        worker_.loop(), &p->work, [](uv_work_t *w) { static_cast<Pending *>(w->data)->build(); },
        [](uv_work_t *w, int) {
            std::unique_ptr<Pending> job(static_cast<Pending *>(w->data));
            PageFill tmp(*job->worker); // finish() and releaseLock() as if still filling
            tmp.lockKey_ = std::move(job->lockKey);
            tmp.ownsLock_ = job->ownsLock;
            tmp.finish(*job);
            tmp.releaseLock(0);
        });
    if (rc == 0) {
        p.release(); // owned by the work request until its after-callback
        return;
    }
    // The pool refused (it does not, short of a bug): build here rather than lose the page.
    lockKey_ = std::move(p->lockKey);
    ownsLock_ = p->ownsLock;
    p->build();
    finish(*p);
    releaseLock(0);
}

} // namespace fc::proxy
