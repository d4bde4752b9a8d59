#include "cache/backend/memcached_cluster.h"

#include <libmemcached/memcached.h>

#include <cstdlib>
#include <ctime>
#include <limits>

namespace fc::cache {

namespace {
// memcached reads an exptime beyond 30 days as an absolute Unix time.
constexpr std::int64_t kRelativeLimit = 30 * 24 * 3600;
} // namespace

MemcachedCluster::MemcachedCluster(const std::vector<Server> &servers, std::uint64_t timeoutMs)
    : master_(memcached_create(nullptr)) {
    for (const auto &s : servers)
        memcached_server_add(master_, s.host.c_str(), s.port);
    const std::uint64_t ms = timeoutMs;
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT);
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms);
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms);
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000);
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000);
    // A server that fails twice is left alone for 2 s, so an outage costs each request at most
    // a couple of timeouts, not one per request.
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 2);
    memcached_behavior_set(master_, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 2);
}

MemcachedCluster::~MemcachedCluster() {
    for (memcached_st *m : free_)
        memcached_free(m);
    memcached_free(master_);
}

memcached_st *MemcachedCluster::borrow() {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
        memcached_st *m = free_.back();
        free_.pop_back();
        return m;
    }
    return memcached_clone(nullptr, master_);
}

void MemcachedCluster::giveBack(memcached_st *m) {
    if (!m)
        return;
    std::lock_guard lock(mu_);
    free_.push_back(m);
}

void MemcachedCluster::noteError(memcached_st *m, int rc) {
    std::string e = m ? memcached_last_error_message(m) : "";
    if (e.empty())
        e = memcached_strerror(m, static_cast<memcached_return_t>(rc));
    std::lock_guard lock(mu_);
    lastError_ = std::move(e);
}

std::string MemcachedCluster::lastError() const {
    std::lock_guard lock(mu_);
    return lastError_;
}

MemcachedCluster::Result MemcachedCluster::get(std::string_view key, std::string &value) {
    memcached_st *m = borrow();
    if (!m)
        return Result::Error;
    std::size_t len = 0;
    std::uint32_t flags = 0;
    memcached_return_t rc;
    char *v = memcached_get(m, key.data(), key.size(), &len, &flags, &rc);
    Result r = Result::Found;
    if (v) {
        value.assign(v, len);
        std::free(v);
    } else if (rc == MEMCACHED_NOTFOUND) {
        r = Result::NotFound;
    } else if (rc == MEMCACHED_SUCCESS) {
        value.clear(); // an empty value
    } else {
        noteError(m, rc);
        r = Result::Error;
    }
    giveBack(m);
    return r;
}

bool MemcachedCluster::set(std::string_view key, std::string_view value, std::int64_t keep) {
    memcached_st *m = borrow();
    if (!m)
        return false;
    // memcached keeps an absolute exptime in 32 bits: past 2038 it would wrap into the past (the
    // item gone at once, though the set says STORED), so the date stops at the last second.
    const std::int64_t exptime =
        keep > kRelativeLimit
            ? std::min<std::int64_t>(static_cast<std::int64_t>(std::time(nullptr)) + keep,
                                     std::numeric_limits<std::int32_t>::max())
            : keep;
    memcached_return_t rc = memcached_set(m, key.data(), key.size(), value.data(), value.size(),
                                          static_cast<time_t>(exptime), 0);
    const bool ok = memcached_success(rc);
    if (!ok)
        noteError(m, rc);
    giveBack(m);
    return ok;
}

bool MemcachedCluster::remove(std::string_view key) {
    memcached_st *m = borrow();
    if (!m)
        return false;
    memcached_return_t rc = memcached_delete(m, key.data(), key.size(), 0);
    const bool ok = memcached_success(rc) || rc == MEMCACHED_NOTFOUND;
    if (!ok)
        noteError(m, rc);
    giveBack(m);
    return ok;
}

} // namespace fc::cache
