#include "proxy/fetch.h"

#include <algorithm>

#include "cache/policy/http.h"
#include "cache/policy/reuse.h"
#include "common/log.h"
#include "http/rewrite.h"
#include "proxy/purge.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
bool isIdempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
           m == "DELETE";
}
std::uint64_t nowUs() {
    return uv_hrtime() / 1000;
}
} // namespace

// A reference held for the length of a scope: a subscriber callback may drop the subscriber's
// reference (its exchange ended), and the fetch must outlive the member function that called it.
class FetchKeep {
public:
    explicit FetchKeep(Fetch *f) : f_(f) { f_->hold(); }
    ~FetchKeep() { f_->drop(); }
    FetchKeep(const FetchKeep &) = delete;
    FetchKeep &operator=(const FetchKeep &) = delete;

private:
    Fetch *f_;
};

Fetch::Fetch(Worker &worker, FetchSubscriber *sub) : worker_(worker), sub_(sub), fill_(worker) {
    worker_.counters().inc(worker_.counters().fetchesLive);
}

Fetch::~Fetch() {
    worker_.counters().dec(worker_.counters().fetchesLive);
    if (refresh_)
        worker_.untrackRefresh(this);
}

void Fetch::drop() {
    if (--refs_ == 0)
        delete this;
}

void Fetch::setStep(FetchStep next) {
    if (!fetchStepAllowed(step_, next))
        FC_ERROR("fetch step %s -> %s is not in the table (%s %s)", fetchStepName(step_).data(),
                 fetchStepName(next).data(), req_ ? req_->method.c_str() : "-",
                 req_ ? req_->target.c_str() : "-");
    else
        FC_DEBUG("fetch %s %s: %s -> %s", req_ ? req_->method.c_str() : "-",
                 req_ ? req_->target.c_str() : "-", fetchStepName(step_).data(),
                 fetchStepName(next).data());
    step_ = next;
}

Fetch *Fetch::create(Worker &worker, FetchSubscriber &sub, Request r) {
    auto *f = new Fetch(worker, &sub);
    f->refs_ = 1; // the subscriber's
    f->req_ = r.head;
    f->storesPage_ = r.storesPage;
    f->isHead_ = r.head->method == "HEAD";
    f->hasBody_ = r.head->hasBody();
    f->bodyDone_ = !f->hasBody_;
    f->idempotent_ = isIdempotent(r.head->method);
    f->earlyBody_ = std::move(r.body);
    f->buffered_ = std::move(r.buffered);
    f->declaredLength_ = r.head->chunked ? -1 : std::max<std::int64_t>(r.head->contentLength, 0);
    f->bodyBytes_ = f->earlyBody_.size();
    f->upgrade_ = r.upgrade;
    f->fill_.rules() = std::move(r.rules);
    f->fill_.keyExtra() = std::move(r.keyExtra);
    if (const RuleSet &rs = f->fill_.rules())
        f->upstreamPool_ = ruleUpstreamPool(rs.rules(), rs.mask);
    r.fwd.upgrade = r.upgrade;
    http::writeUpstreamRequest(*r.head, r.fwd, f->upstreamHead_);
    // An expired copy with validators is revalidated (RFC 9111 §4.3.1) unless the client sent
    // validators of its own (those are for its copy; the answer is then passed through).
    f->adoptStale(std::move(r.stale));
    if (f->stale_ && cache::revalidates(f->staleView_, *r.head)) {
        cache::appendValidators(f->staleView_, f->upstreamHead_);
        f->conditional_ = true;
    }
    f->holdUntilStored_ = r.holdUntilStored;
    return f;
}

bool Fetch::startRefresh(Worker &worker, const http::RequestHead &req, std::string_view uri,
                         std::string_view lockKey, cache::ItemRef stale,
                         const http::ForwardInfo &fwd, RuleSet rules, std::string_view keyExtra) {
    if (worker.draining())
        return false;
    cache::PageView view;
    if (!stale || !cache::decodePage(stale->value(), view))
        return false;
    // Claimed before anything is allocated: every stale answer asks, one in a refresh starts it.
    if (worker.cache().locks->claim(lockKey, nullptr) != cache::FetchLocks::Claim::Owner)
        return false; // someone is fetching it already
    auto *f = new Fetch(worker, nullptr);
    f->refresh_ = true;
    worker.trackRefresh(f);
    f->fill_.adoptLock(lockKey);
    f->fill_.uri().assign(uri);
    f->fill_.rules() = std::move(rules);
    f->fill_.keyExtra().assign(keyExtra);
    if (const RuleSet &rs = f->fill_.rules())
        f->upstreamPool_ = ruleUpstreamPool(rs.rules(), rs.mask);
    f->ownReq_ = req;
    f->ownReq_.method = "GET";
    f->ownReq_.contentLength = -1;
    f->ownReq_.chunked = false;
    f->ownReq_.keepAlive = true;
    cache::stripClientConditionals(f->ownReq_);
    f->req_ = &f->ownReq_;
    f->storesPage_ = true;
    f->bodyDone_ = true;
    f->idempotent_ = true;
    http::writeUpstreamRequest(f->ownReq_, fwd, f->upstreamHead_);
    f->conditional_ = cache::revalidates(view, f->ownReq_);
    if (f->conditional_)
        cache::appendValidators(view, f->upstreamHead_);
    f->staleView_ = view; // decoded above: it points into the item, which stale_ keeps
    f->stale_ = std::move(stale);
    worker.counters().inc(worker.counters().refreshes);
    FC_DEBUG("background refresh of %.*s", static_cast<int>(uri.size()), uri.data());
    f->go();
    return true;
}

// The expired copy, decoded once for every decision about it (revalidation, a 304, a 5xx, a
// failure): `staleView_` points into the item, which `stale_` keeps alive. One that does not
// decode is no copy at all.
void Fetch::adoptStale(cache::ItemRef stale) {
    if (stale && cache::decodePage(stale->value(), staleView_))
        stale_ = std::move(stale);
}

void Fetch::go() {
    FetchKeep keep(this);
    hold(); // the upstream exchange's reference, dropped by finished()
    setStep(FetchStep::Queued);
    startUs_ = nowUs();
    worker_.pool().acquire(*this);
}

void Fetch::retry() {
    // RFC 9112 §9.3.1: a reused keep-alive connection may have been closed by the upstream just
    // as we sent; an idempotent request is retried once on a fresh connection — to another
    // server when there are several (RFC 9110 §9.2.2).
    retried_ = true;
    setStep(FetchStep::Queued);
    worker_.pool().acquire(*this, true, std::uint64_t{1} << static_cast<unsigned>(server_));
}

void Fetch::finished() {
    if (step_ == FetchStep::Done)
        return;
    setStep(FetchStep::Done);
    fill_.releaseLock(0); // whatever happened, waiters may look again now
    drop();
}

void Fetch::sendBody(std::string_view framed) {
    bodyBytes_ += framed.size();
    if (upstream_ && step_ != FetchStep::Queued)
        upstream_->send(framed);
    else
        earlyBody_.append(framed);
}

std::size_t Fetch::pendingUpstream() const {
    return upstream_ ? upstream_->writeQueueSize() : earlyBody_.size();
}

void Fetch::shutdownUpstream() {
    if (upstream_ && step_ != FetchStep::Queued)
        upstream_->shutdownWrite();
}

void Fetch::pauseReading() {
    paused_ = true;
    if (upstream_)
        upstream_->pauseReading();
}

void Fetch::resumeReading() {
    paused_ = false;
    if (upstream_)
        upstream_->resumeReading();
}

// --- the upstream exchange (UpstreamUser) ------------------------------------------------------

void Fetch::onUpstreamReady(UpstreamConnection &conn) {
    FetchKeep keep(this);
    upstream_ = &conn;
    server_ = conn.server();
    setStep(FetchStep::Sent);
    requestedAt_ = worker_.cache().clock->now();
    conn.beginExchange(*this, isHead_, upgrade_);
    conn.send(std::string_view(upstreamHead_));
    if (!earlyBody_.empty()) {
        conn.send(std::string_view(earlyBody_));
        std::string().swap(earlyBody_);
    }
    pumpBody();
    if (sub_ && upstream_)
        sub_->onFetchSent(conditional_);
}

void Fetch::pumpBody() {
    constexpr std::size_t kHighWater = 256 * 1024;
    while (buffered_ && upstream_ && !buffered_->atEnd() &&
           upstream_->writeQueueSize() < kHighWater) {
        std::string_view piece = buffered_->next();
        if (piece.empty()) { // a read error: the request cannot be completed
            FC_ERROR("%s", buffered_->error().c_str());
            UpstreamConnection *u = std::exchange(upstream_, nullptr);
            u->abort();
            onUpstreamError(500, "the buffered request body could not be read back", false,
                            UpstreamFailure::Failed);
            return;
        }
        bodyBytes_ += piece.size();
        upstream_->send(piece);
    }
    if (buffered_ && buffered_->atEnd())
        buffered_.reset(); // all of it is with the upstream connection now
}

bool Fetch::onUpstreamHead(http::ResponseHead &resp) {
    FetchKeep keep(this);
    upstreamUs_ = static_cast<std::int64_t>(nowUs() - startUs_);
    worker_.counters().observeUpstream(static_cast<std::uint64_t>(upstreamUs_));
    const http::RequestHead &req = *req_;
    if (const RuleSet &rules = fill_.rules(); rules && resp.status != 101)
        applyResponseEdits(rules.rules(), rules.mask, resp.headers); // before anything reads it
    // RFC 9875: the groups the response declares, for the stored copy; the aliases (Surrogate-Key,
    // Cache-Tag, xkey) leave the head before anything stores or sends it.
    cache::GroupTally tally;
    cache::takeGroups(worker_.cache().groupFields, resp.headers, fill_.groups(), tally);
    countGroupTally(tally, worker_.counters());
    bool stores = false;
    if (storesPage_) {
        const CacheContext &cc = worker_.cache();
        const cache::PageView &v = staleView_;
        if (conditional_ && resp.status == 304 && stale_) {
            // Our validators matched: the stored copy is still good. Renew it (new Date,
            // lifetime and fields from the 304) and answer from it once this exchange is over.
            answer_ = fill_.renew(req, v, resp.headers);
            renewed_ = static_cast<bool>(answer_);
            if (!answer_)
                answer_ = stale_.share(); // no longer storable, but validated just now
            answerStatus_ = CacheStatus::Revalidated;
            setStep(FetchStep::Answer);
            return sub_ != nullptr || refresh_;
        }
        if (sub_ && resp.status >= 500 && stale_ && v.usableOnError(cc.clock->now())) {
            // stale-if-error (RFC 5861 §4): the stale copy instead of the upstream's 5xx.
            fill_.releaseLock(0);
            answer_ = stale_.share();
            answerStatus_ = CacheStatus::StaleIfError;
            setStep(FetchStep::Answer);
            return true;
        }
        // RFC 9111 §4.3.5 (http mode): a 200 to a HEAD whose validators and length match the
        // stored GET response freshens it, as a 304 would (the HEAD's own answer goes on).
        if (isHead_ && resp.status == 200 && stale_ &&
            cache::headFreshens(cc.policy, v, resp.headers, resp.contentLength))
            fill_.renew(req, v, resp.headers);
        // UpdateCacheMiddleware: decide, and patch the headers both ways — from what the head
        // says, parsed once for every rule (cache/policy/facts.h).
        const cache::ResponseFacts facts =
            cache::responseFacts(resp.status, resp.contentLength, resp.headers, cc.policy);
        stores = fill_.plan(req, resp, facts, isHead_, requestedAt_);
    }
    if (!sub_) { // nobody to stream to: keep fetching only to store the page
        if (stores)
            setStep(FetchStep::StoreOnly);
        return stores;
    }
    // A stale copy can still stand in if this fetch fails mid-body (stale-if-error), so nothing
    // is sent until the whole page has arrived and been stored.
    const bool hold = stores && (stale_ || holdUntilStored_) && !isHead_;
    setStep(hold ? FetchStep::Hold : stores ? FetchStep::StreamStore : FetchStep::Stream);
    sub_->onFetchHead(resp, storesPage_ ? fill_.notStored() : cache::NotStored::None, hold);
    return true;
}

void Fetch::onUpstreamEarlyHints(http::ResponseHead &hints) {
    FetchKeep keep(this);
    if (!sub_ || step_ != FetchStep::Sent)
        return;
    // A 103 leaves with the group aliases taken out, as the final response does.
    std::string groups;
    cache::GroupTally tally;
    cache::takeGroups(worker_.cache().groupFields, hints.headers, groups, tally);
    sub_->onFetchEarlyHints(hints);
}

// The held response is sent after all: what was held, then the rest as it streams (and is still
// stored, unless it outgrew the object size: the caller says).
void Fetch::unhold(FetchStep next) {
    setStep(next);
    if (sub_)
        sub_->onFetchUnheld(fill_.body());
}

void Fetch::onUpstreamBody(std::string_view piece) {
    FetchKeep keep(this);
    if (step_ == FetchStep::Answer)
        return; // a page replaces this body
    if (step_ == FetchStep::Hold) {
        if (fill_.body().size() + piece.size() <= worker_.cache().policy.maxObjectSize) {
            fill_.append(piece);
            return;
        }
        unhold(FetchStep::StreamStore); // outgrows cache.max_object_size: streamed on
    }
    if (fetchStores(step_) && !fill_.append(piece)) { // too big: never stored
        if (step_ == FetchStep::StoreOnly) { // nobody to stream it to either: stop fetching
            if (upstream_) {
                upstream_->abort();
                upstream_ = nullptr;
            }
            if (refresh_)
                worker_.counters().inc(worker_.counters().refreshFailed);
            finished();
            return;
        }
        setStep(FetchStep::Stream);
    }
    if (sub_ && fetchDelivered(step_))
        sub_->onFetchBody(piece);
}

void Fetch::onUpstreamReadDone() {
    if (sub_ && step_ != FetchStep::Hold && step_ != FetchStep::Answer)
        sub_->onFetchReadDone();
}

void Fetch::onUpstreamComplete(bool reusable) {
    FetchKeep keep(this);
    cache::ItemRef stored;
    if (fetchStores(step_)) {
        // A large body's codings are made on the thread pool and the page is linked from there:
        // a held response cannot wait for it and goes out as the upstream sent it.
        if (step_ == FetchStep::Hold && fill_.offloads())
            unhold(FetchStep::StreamStore);
        stored = fill_.commit(*req_); // the whole body arrived intact
    }
    if (step_ == FetchStep::Hold) {
        if (stored) { // answer from the page just stored
            answer_ = stored.share();
            answerStatus_ = CacheStatus::Miss;
        } else {
            unhold(FetchStep::Stream); // the store refused it: send what the upstream sent
        }
    }
    fill_.releaseLock(0);
    // (A tunnel's bytes are not a request body; its connection is never reused.)
    const bool framed = upgrade_ || declaredLength_ < 0 ||
                        bodyBytes_ == static_cast<std::uint64_t>(declaredLength_);
    if (!framed)
        FC_ERROR("request body of %s %s was %llu bytes, not the %lld declared: upstream "
                 "connection closed",
                 req_->method.c_str(), req_->target.c_str(),
                 static_cast<unsigned long long>(bodyBytes_),
                 static_cast<long long>(declaredLength_));
    if (UpstreamConnection *u = std::exchange(upstream_, nullptr))
        u->release(reusable && bodyDone_ && framed);
    if (refresh_ && !renewed_ && !stored)
        worker_.counters().inc(worker_.counters().refreshFailed);
    FetchSubscriber *sub = sub_;
    finished();
    if (!sub)
        return;
    if (answer_) // a renewed, stale-if-error or just-stored page replaces what was sent
        sub->onFetchAnswer(std::move(answer_), answerStatus_);
    else
        sub->onFetchComplete();
}

void Fetch::onUpstreamError(int status, const char *reason, bool retryable, UpstreamFailure kind) {
    FetchKeep keep(this);
    upstream_ = nullptr;
    if (fetchStores(step_)) // cut short: a truncated page is never stored
        fill_.abandon(cache::NotStored::Truncated);
    if (!sub_) {
        if (refresh_) {
            FC_INFO("background refresh of %s failed (%d: %s); the stale copy stays",
                    fill_.uri().c_str(), status, reason);
            worker_.counters().inc(worker_.counters().refreshFailed);
        }
        finished();
        return;
    }
    if (retryable && !retried_ && !hasBody_ && step_ == FetchStep::Sent && idempotent_) {
        FC_DEBUG("retrying %s %s on a fresh upstream connection (%s)", req_->method.c_str(),
                 req_->target.c_str(), reason);
        retry();
        return;
    }
    FetchSubscriber *sub = sub_;
    const bool started = fetchDelivered(step_);
    fill_.releaseLock(0);
    if (!answer_ && storesPage_ && !started && stale_ &&
        staleView_.usableOnError(worker_.cache().clock->now())) {
        // stale-if-error: an upstream failure (refused, timeout, reset) is answered from the
        // expired copy while it is within its stale-if-error window.
        FC_INFO("serving a stale copy of %s instead of an upstream error (%s)", fill_.uri().c_str(),
                reason);
        answer_ = stale_.share();
        answerStatus_ = CacheStatus::StaleIfError;
    }
    finished();
    if (answer_ && !started) // the error came after a 304, during a discarded 5xx, or stale
        sub->onFetchAnswer(std::move(answer_), answerStatus_);
    else
        sub->onFetchError(status, reason, started, kind);
}

void Fetch::onUpstreamWritable() {
    FetchKeep keep(this);
    pumpBody();
    if (sub_)
        sub_->onFetchWritable();
}

// --- leaving ----------------------------------------------------------------------------------

void Fetch::unsubscribe() {
    FetchKeep keep(this);
    sub_ = nullptr;
    drop(); // the subscriber's reference
    if (step_ == FetchStep::Done || step_ == FetchStep::Created)
        return;
    // A client that goes away does not stop a cacheable fetch: other clients want the page. It
    // is finished (and stored) without a client, unless the worker is shutting down.
    const bool keepFetching = upstream_ && storesPage_ && !worker_.draining() &&
                              (step_ == FetchStep::Sent || fetchStores(step_));
    if (keepFetching) {
        if (fetchStores(step_))
            setStep(FetchStep::StoreOnly);
        ownReq_ = *req_; // the client's head goes with its connection
        req_ = &ownReq_;
        if (paused_)
            resumeReading();
        return;
    }
    if (step_ == FetchStep::Queued)
        worker_.pool().cancel(*this);
    if (UpstreamConnection *u = std::exchange(upstream_, nullptr))
        u->abort();
    fill_.abandon(cache::NotStored::Truncated); // and wake whoever waited for this fetch
    finished();
}

void Fetch::abort() {
    FetchKeep keep(this);
    if (step_ == FetchStep::Queued)
        worker_.pool().cancel(*this);
    if (UpstreamConnection *u = std::exchange(upstream_, nullptr))
        u->abort();
    if (step_ != FetchStep::Done) {
        fill_.abandon(cache::NotStored::Truncated);
        if (refresh_)
            worker_.counters().inc(worker_.counters().refreshFailed);
        finished();
    }
}

} // namespace fc::proxy
