// memcached's "stats" and its groups (settings, items, slabs, reset), with memcached's names so
// that memcstat, Prometheus exporters and other tools read them.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "cache/memcache/command.h"
#include "cache/memcache/execute.h"

namespace fc::cache {

using namespace memcache;

namespace {

void stat(std::string &out, std::string_view name, std::uint64_t v) {
    out.append("STAT ");
    out.append(name);
    out.push_back(' ');
    putNum(out, v);
    out.append("\r\n");
}

void statText(std::string &out, std::string_view name, std::string_view v) {
    out.append("STAT ");
    out.append(name);
    out.push_back(' ');
    putLine(out, v);
}

std::uint64_t ld(const std::atomic<std::uint64_t> &a) {
    return a.load(std::memory_order_relaxed);
}

// The process and connection lines that open a plain "stats".
void processStats(std::string &out, const ProtocolContext &ctx) {
    const std::int64_t now = ctx.clock.now();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    char buf[64];
    stat(out, "pid", static_cast<std::uint64_t>(::getpid()));
    stat(out, "uptime", static_cast<std::uint64_t>(now - ctx.startTime));
    stat(out, "time", static_cast<std::uint64_t>(now));
    statText(out, "version", ctx.version);
    stat(out, "pointer_size", sizeof(void *) * 8);
    std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(ru.ru_utime.tv_sec),
                  static_cast<long>(ru.ru_utime.tv_usec));
    statText(out, "rusage_user", buf);
    std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(ru.ru_stime.tv_sec),
                  static_cast<long>(ru.ru_stime.tv_usec));
    statText(out, "rusage_system", buf);
    const ProtocolStats &p = ctx.stats;
    stat(out, "max_connections", ctx.maxConnections);
    stat(out, "curr_connections", ld(p.currConnections));
    stat(out, "total_connections", ld(p.totalConnections));
    stat(out, "rejected_connections", ld(p.rejectedConnections));
    stat(out, "connection_structures", ld(p.currConnections));
}

// The command and item counters of a plain "stats", after processStats.
void commandStats(std::string &out, const ProtocolContext &ctx, const StoreStats &s) {
    const ProtocolStats &p = ctx.stats;
    stat(out, "cmd_get", ld(p.cmdGet));
    stat(out, "cmd_set", ld(p.cmdSet));
    stat(out, "cmd_flush", ld(p.cmdFlush));
    stat(out, "cmd_touch", ld(p.cmdTouch));
    stat(out, "cmd_meta", ld(p.cmdMeta));
    stat(out, "get_hits", s.getHits);
    stat(out, "get_misses", s.getMisses);
    stat(out, "get_expired", s.getExpired);
    stat(out, "get_flushed", s.getFlushed);
    stat(out, "delete_misses", s.deleteMisses);
    stat(out, "delete_hits", s.deleteHits);
    stat(out, "incr_misses", s.incrMisses);
    stat(out, "incr_hits", s.incrHits);
    stat(out, "decr_misses", s.decrMisses);
    stat(out, "decr_hits", s.decrHits);
    stat(out, "cas_misses", s.casMisses);
    stat(out, "cas_hits", s.casHits);
    stat(out, "cas_badval", s.casBadval);
    stat(out, "touch_hits", s.touchHits);
    stat(out, "touch_misses", s.touchMisses);
    stat(out, "auth_cmds", ld(p.authCmds));
    stat(out, "auth_errors", ld(p.authErrors));
    stat(out, "bytes_read", ld(p.bytesRead));
    stat(out, "bytes_written", ld(p.bytesWritten));
    stat(out, "limit_maxbytes", s.limitMaxbytes);
    stat(out, "threads", ctx.threads);
    stat(out, "hash_bytes", s.hashBuckets * sizeof(void *));
    stat(out, "bytes", s.bytes);
    stat(out, "curr_items", s.currItems);
    stat(out, "total_items", s.totalItems);
    stat(out, "expired_unfetched", s.expiredUnfetched);
    stat(out, "evicted_unfetched", s.evictedUnfetched);
    stat(out, "evictions", s.evictions);
    stat(out, "reclaimed", s.reclaimed);
}

// "stats <group>" for the groups other than the plain one; false for one memcached does not
// have (or that frontcache does not keep).
bool groupStats(std::string &out, const ProtocolContext &ctx, const StoreStats &s,
                std::string_view group) {
    const StoreConfig &cfg = ctx.store.config();
    if (group == "settings") {
        stat(out, "maxbytes", s.limitMaxbytes);
        stat(out, "maxconns", ctx.maxConnections);
        stat(out, "num_threads", ctx.threads);
        stat(out, "item_size_max", cfg.itemSizeMax);
        statText(out, "evictions", "on");
        statText(out, "eviction_policy", cfg.policy == EvictionPolicy::S3Fifo ? "s3fifo" : "lru");
        stat(out, "verbosity", ctx.verbosity.load(std::memory_order_relaxed));
        statText(out, "cas_enabled", "yes");
        stat(out, "shards", std::size_t(1) << cfg.shardBits);
    } else if (group == "items") {
        stat(out, "items:1:number", s.currItems);
        stat(out, "items:1:evicted", s.evictions);
        stat(out, "items:1:evicted_unfetched", s.evictedUnfetched);
        stat(out, "items:1:expired_unfetched", s.expiredUnfetched);
        stat(out, "items:1:reclaimed", s.reclaimed);
    } else if (group == "slabs") {
        // No slab allocator: items are individually allocated. One pseudo-class keeps tools
        // that parse this output working.
        stat(out, "1:used_chunks", s.currItems);
        stat(out, "1:mem_requested", s.bytes);
        stat(out, "active_slabs", s.currItems ? 1 : 0);
        stat(out, "total_malloced", s.bytes);
    } else {
        return false;
    }
    return true;
}

} // namespace

void MemcacheSession::stats(const Command &c, std::string &out) {
    const std::string_view group = c.as<Stats>().group;
    if (group == "reset")
        return putLine(out, "RESET");
    const StoreStats s = ctx_.store.stats();
    if (group.empty()) {
        processStats(out, ctx_);
        commandStats(out, ctx_, s);
        if (ctx_.extraStats)
            ctx_.extraStats(out);
    } else if (!groupStats(out, ctx_, s, group)) {
        return putLine(out, "ERROR");
    }
    putLine(out, "END");
}

} // namespace fc::cache
