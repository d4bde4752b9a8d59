#include "proxy/refresh.h"

#include "cache/page.h"
#include "http/date.h"
#include "http/rewrite.h"
#include "proxy/log.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
// A conditional request of our own replaces the client's: its validators are for the client's
// copy, ours are for the stored one (RFC 9111 §4.3.1).
constexpr std::string_view kClientConditionals[] = {
    "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"};
} // namespace

BackgroundRefresh::BackgroundRefresh(Worker &worker, cache::ItemRef stale)
    : worker_(worker), fill_(worker), stale_(std::move(stale)) {
    worker_.trackRefresh(this);
}

BackgroundRefresh::~BackgroundRefresh() {
    worker_.untrackRefresh(this);
}

bool BackgroundRefresh::start(Worker &worker, const http::RequestHead &req, std::string_view uri,
                              std::string_view lockKey, cache::ItemRef stale,
                              std::string_view peer) {
    if (worker.draining())
        return false;
    cache::PageView view;
    if (!stale || !cache::decodePage(stale->value(), view))
        return false;
    // Claimed before anything is allocated: every stale answer asks, one in a refresh starts it.
    if (worker.cache().locks->claim(lockKey, nullptr) != cache::FetchLocks::Claim::Owner)
        return false; // someone is fetching it already
    auto *r = new BackgroundRefresh(worker, stale.share());
    r->fill_.adoptLock(lockKey);
    r->fill_.uri().assign(uri);
    r->req_ = req;
    r->req_.method = "GET";
    r->req_.contentLength = -1;
    r->req_.chunked = false;
    r->req_.keepAlive = true;
    for (std::string_view h : kClientConditionals)
        r->req_.headers.remove(h);
    http::writeUpstreamRequest(r->req_, http::ForwardInfo{peer}, r->head_);
    r->conditional_ = !view.etag.empty() || view.lastModified != 0;
    if (r->conditional_)
        appendValidators(view, r->head_);
    worker.counters().inc(worker.counters().refreshes);
    FC_DEBUG("background refresh of %.*s", static_cast<int>(uri.size()), uri.data());
    r->waiting_ = true;
    worker.pool().acquire(*r);
    return true;
}

void BackgroundRefresh::onUpstreamReady(UpstreamConnection &conn) {
    waiting_ = false;
    upstream_ = &conn;
    conn.beginExchange(*this, false);
    conn.send(std::string_view(head_));
}

bool BackgroundRefresh::onUpstreamHead(http::ResponseHead &resp) {
    if (conditional_ && resp.status == 304) {
        cache::PageView view;
        if (cache::decodePage(stale_->value(), view))
            renewed_ = static_cast<bool>(fill_.renew(req_, view, resp.headers));
        return true;
    }
    storing_ = fill_.plan(req_, resp, false);
    return storing_; // nothing to keep: stop reading (the connection is closed)
}

void BackgroundRefresh::onUpstreamBody(std::string_view piece) {
    if (storing_ && !fill_.append(piece))
        storing_ = false; // too big: keep reading to the end only to keep the connection
}

void BackgroundRefresh::onUpstreamComplete(bool reusable) {
    bool ok = renewed_;
    if (storing_)
        ok = static_cast<bool>(fill_.commit(req_));
    if (upstream_)
        upstream_->release(reusable);
    upstream_ = nullptr;
    finish(ok);
}

void BackgroundRefresh::onUpstreamError(int status, const char *reason, bool retryable) {
    upstream_ = nullptr;
    waiting_ = false;
    (void)retryable;
    FC_INFO("background refresh of %s failed (%d: %s); the stale copy stays", fill_.uri().c_str(),
            status, reason);
    finish(false);
}

void BackgroundRefresh::finish(bool ok) {
    fill_.abandon(cache::NotStored::Truncated); // no-op unless still storing; releases the lock
    if (!ok)
        worker_.counters().inc(worker_.counters().refreshFailed);
    delete this;
}

void BackgroundRefresh::abort() {
    if (waiting_)
        worker_.pool().cancel(*this);
    if (upstream_)
        upstream_->abort();
    upstream_ = nullptr;
    waiting_ = false;
    finish(false);
}

} // namespace fc::proxy
