#include "cache/store/watch.h"

#include <sys/time.h>

#include <cstdarg>
#include <cstdio>

#include "cache/store/store.h"

namespace fc::cache {

namespace {
thread_local int tlsClientFd = -1;

// memcached's default slab classes: 96 bytes (a 48-byte item header + -n 48), each 1.25 times
// the last rounded up to 8, up to half a 1 MiB page; larger items are chunked in the last class.
const std::vector<std::size_t> &slabSizes() {
    static const std::vector<std::size_t> sizes = [] {
        std::vector<std::size_t> v;
        double size = 96;
        while (size <= 524288 / 1.25) {
            std::size_t s = static_cast<std::size_t>(size);
            if (s % 8)
                s += 8 - s % 8;
            v.push_back(s);
            size = static_cast<double>(s) * 1.25;
        }
        v.push_back(524288);
        return v;
    }();
    return sizes;
}
} // namespace

void setWatchClientFd(int fd) {
    tlsClientFd = fd;
}

std::size_t memcachedItemSize(std::size_t keyLen, std::size_t valueLen, std::uint32_t flags) {
    return 48 + keyLen + 1 + valueLen + 2 + (flags ? 4 : 0) + 8;
}

unsigned slabClassOf(std::size_t keyLen, std::size_t valueLen, std::uint32_t flags) {
    std::size_t total = memcachedItemSize(keyLen, valueLen, flags);
    const auto &sizes = slabSizes();
    for (std::size_t i = 0; i < sizes.size(); ++i)
        if (total <= sizes[i])
            return static_cast<unsigned>(i + 1);
    return static_cast<unsigned>(sizes.size());
}

std::uint32_t parseWatchArgs(const std::string_view *args, std::size_t n) {
    if (n == 0)
        return kWatchFetchers;
    std::uint32_t kinds = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::string_view a = args[i];
        if (a == "fetchers")
            kinds |= kWatchFetchers;
        else if (a == "mutations")
            kinds |= kWatchMutations;
        else if (a == "evictions")
            kinds |= kWatchEvictions;
        else if (a == "rawcmds" || a == "sysevents" || a == "connevents" || a == "proxyreqs")
            kinds |= kWatchOther;
        else
            return 0;
    }
    return kinds;
}

void WatchLog::emit(std::uint32_t kind, const char *fmt, ...) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    char line[600];
    int n = std::snprintf(
        line, sizeof line, "ts=%lld.%ld gid=%llu ", static_cast<long long>(tv.tv_sec),
        static_cast<long>(tv.tv_usec),
        static_cast<unsigned long long>(gid_.fetch_add(1, std::memory_order_relaxed) + 1));
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n), fmt, ap);
    va_end(ap);
    std::size_t len = std::min(sizeof line - 1, static_cast<std::size_t>(n + m));
    std::vector<std::function<void()> *> toWake;
    {
        std::lock_guard lock(mu_);
        for (auto &w : watchers_) {
            if (!(w->kinds & kind))
                continue;
            if (w->lines.size() + len > kMaxBuffered) {
                ++w->skipped;
                continue;
            }
            w->lines.append(line, len);
            if (!w->woken) {
                w->woken = true;
                toWake.push_back(&w->wake);
            }
        }
        // Woken under the lock: a watcher cannot unsubscribe (and free its callback) meanwhile;
        // the callbacks only signal (uv_async_send).
        for (auto *f : toWake)
            (*f)();
    }
}

void WatchLog::logGet(std::string_view key, bool found, std::size_t valueLen, std::uint32_t flags) {
    if (!wants(kWatchFetchers))
        return;
    emit(kWatchFetchers, "type=item_get key=%.*s status=%s clsid=%u cfd=%d size=%zu\n",
         static_cast<int>(key.size()), key.data(), found ? "found" : "not_found",
         found ? slabClassOf(key.size(), valueLen, flags) : 0u, tlsClientFd, found ? valueLen : 0);
}

void WatchLog::logStore(std::string_view key, std::string_view status, std::string_view cmd,
                        std::int64_t ttl, std::size_t valueLen, std::uint32_t flags) {
    if (!wants(kWatchMutations))
        return;
    emit(kWatchMutations,
         "type=item_store key=%.*s status=%.*s cmd=%.*s ttl=%lld clsid=%u cfd=%d size=%zu\n",
         static_cast<int>(key.size()), key.data(), static_cast<int>(status.size()), status.data(),
         static_cast<int>(cmd.size()), cmd.data(), static_cast<long long>(ttl),
         slabClassOf(key.size(), valueLen, flags), tlsClientFd, valueLen);
}

void WatchLog::logEviction(std::string_view key, bool fetched, std::int64_t ttl,
                           std::int64_t lastAccess, std::size_t valueLen, std::uint32_t flags) {
    if (!wants(kWatchEvictions))
        return;
    emit(kWatchEvictions, "type=eviction key=%.*s fetch=%s ttl=%lld la=%lld clsid=%u size=%zu\n",
         static_cast<int>(key.size()), key.data(), fetched ? "yes" : "no",
         static_cast<long long>(ttl), static_cast<long long>(lastAccess),
         slabClassOf(key.size(), valueLen, flags), valueLen);
}

std::shared_ptr<WatchLog::Watcher> WatchLog::subscribe(std::uint32_t kinds,
                                                       std::function<void()> wake) {
    auto w = std::make_shared<Watcher>();
    w->kinds = kinds;
    w->wake = std::move(wake);
    std::lock_guard lock(mu_);
    watchers_.push_back(w);
    std::uint32_t mask = 0;
    for (auto &x : watchers_)
        mask |= x->kinds;
    mask_.store(mask, std::memory_order_relaxed);
    return w;
}

void WatchLog::unsubscribe(const std::shared_ptr<Watcher> &w) {
    std::lock_guard lock(mu_);
    std::erase(watchers_, w);
    std::uint32_t mask = 0;
    for (auto &x : watchers_)
        mask |= x->kinds;
    mask_.store(mask, std::memory_order_relaxed);
}

std::string WatchLog::take(Watcher &w) {
    std::string out;
    std::lock_guard lock(mu_);
    if (w.skipped) {
        out = "skipped=" + std::to_string(w.skipped) + "\n";
        w.skipped = 0;
    }
    out += w.lines;
    w.lines.clear();
    w.woken = false;
    return out;
}

} // namespace fc::cache
