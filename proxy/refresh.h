// A background refresh: the one upstream fetch that renews a page while requests for it are
// answered from its stale copy (grace / stale-while-revalidate). It is not tied to any client
// connection: it holds its own copy of the request that found the page stale, asks the upstream
// conditionally when the stale copy has validators (If-None-Match / If-Modified-Since), and
// either stores the new page, renews the stored one from a 304 (no body re-sent), or — on an
// error, a 5xx or a response that cannot be stored — leaves the stale copy in place.
//
// Threading: one worker's loop thread. Ownership: deletes itself when the fetch ends; the worker
// tracks live refreshes so a shutdown can wait for them (up to server.drain_timeout) and then
// abandon them cleanly (abort()).
#pragma once

#include <string>

#include "cache/store/item.h"
#include "http/headers.h"
#include "proxy/page_fill.h"
#include "proxy/upstream.h"

namespace fc::proxy {

class Worker;

class BackgroundRefresh final : private UpstreamUser {
public:
    // Starts a refresh of the GET page `stale` found under `lockKey` for `req` (whose Vary
    // values select the variant), unless another fetch of that key is already running. Returns
    // whether one was started.
    static bool start(Worker &worker, const http::RequestHead &req, std::string_view uri,
                      std::string_view lockKey, cache::ItemRef stale, std::string_view peer);
    // Shutdown: gives the fetch up (the lock is released; the stale copy stays).
    void abort();

    BackgroundRefresh *prev_ = nullptr, *next_ = nullptr; // worker's intrusive list

private:
    BackgroundRefresh(Worker &worker, cache::ItemRef stale);
    ~BackgroundRefresh();
    void onUpstreamReady(UpstreamConnection &conn) override;
    bool onUpstreamHead(http::ResponseHead &head) override;
    void onUpstreamBody(std::string_view piece) override;
    void onUpstreamComplete(bool reusable) override;
    void onUpstreamError(int status, const char *reason, bool retryable) override;
    void onUpstreamWritable() override {}
    void onUpstreamReadDone() override {}
    void finish(bool ok);

    Worker &worker_;
    PageFill fill_;
    cache::ItemRef stale_;
    http::RequestHead req_;
    std::string head_; // the request as sent upstream
    UpstreamConnection *upstream_ = nullptr;
    bool waiting_ = false; // queued in the pool
    bool conditional_ = false;
    bool renewed_ = false; // a 304 renewed the page
    bool storing_ = false;
};

} // namespace fc::proxy
