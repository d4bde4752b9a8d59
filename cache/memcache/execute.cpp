// The dispatch of a parsed command, and the text protocol's commands (memcached 1.6.18's
// process_*_command in proto_text.c, in the order of their checks).
#include <algorithm>

#include "cache/memcache/command.h"
#include "cache/memcache/execute.h"

namespace fc::cache {

using namespace memcache;

MemcacheSession::Status MemcacheSession::execute(const Command &c, std::string &out) {
    switch (c.kind()) {
    case CommandKind::Invalid: {
        const Invalid &e = c.as<Invalid>();
        if (!e.reply.empty())
            putLine(out, e.reply);
        if (e.swallow)
            readPast(e.swallow, nullptr);
        break;
    }
    case CommandKind::Retrieval:
        retrieve(c, out);
        break;
    case CommandKind::Storage:
        startStore(c, out);
        break;
    case CommandKind::Delete:
        remove(c, out);
        break;
    case CommandKind::Arithmetic:
        arithmetic(c, out);
        break;
    case CommandKind::Touch:
        touch(c, out);
        break;
    case CommandKind::MetaGet:
        metaGet(c, out);
        break;
    case CommandKind::MetaSet:
        metaSet(c, out);
        break;
    case CommandKind::MetaDelete:
        metaDelete(c, out);
        break;
    case CommandKind::MetaArithmetic:
        metaArithmetic(c, out);
        break;
    case CommandKind::MetaNoop:
        putLine(out, "MN");
        break;
    case CommandKind::MetaDebug:
        metaDebug(c, out);
        break;
    case CommandKind::FlushAll:
        flushAll(c, out);
        break;
    case CommandKind::Version:
        out.append("VERSION ");
        putLine(out, ctx_.version);
        break;
    case CommandKind::Verbosity:
        verbosity(c, out);
        break;
    case CommandKind::Stats:
        stats(c, out);
        break;
    case CommandKind::CacheMemlimit:
        cacheMemlimit(c, out);
        break;
    case CommandKind::Quit:
        return Status::Close;
    case CommandKind::Watch:
        watchKinds_ = c.as<Watch>().kinds;
        putLine(out, "OK");
        return Status::Watch;
    }
    return Status::NeedMore;
}

void MemcacheSession::retrieve(const Command &c, std::string &out) {
    const Retrieval &r = c.as<Retrieval>();
    Store::GetOptions opts;
    if (r.touch) {
        opts.touch = true;
        opts.exptime = r.exptime;
        ctx_.stats.cmdTouch.fetch_add(r.keys.size(), std::memory_order_relaxed);
    }
    const std::size_t mark = out.size();
    for (std::string_view key : r.keys) {
        if (key.size() > kMaxKeyLength) {
            // memcached drops the values it had gathered for this command (the keys before were
            // looked up, and touched): only the error.
            out.resize(mark);
            putLine(out, "CLIENT_ERROR bad command line format");
            return;
        }
        ctx_.stats.cmdGet.fetch_add(1, std::memory_order_relaxed);
        ItemRef it = ctx_.store.lookup(key, opts);
        if (!it)
            continue;
        out.append("VALUE ");
        out.append(key);
        out.push_back(' ');
        putNum(out, it->flags);
        out.push_back(' ');
        putNum(out, it->valueLen);
        if (r.withCas) {
            out.push_back(' ');
            putNum(out, it->cas.load(std::memory_order_relaxed));
        }
        out.append("\r\n");
        putLine(out, it->value());
    }
    putLine(out, "END");
}

void MemcacheSession::startStore(const Command &c, std::string &) {
    const Storage &s = c.as<Storage>();
    ctx_.stats.cmdSet.fetch_add(1, std::memory_order_relaxed);
    ItemRef item = ctx_.store.allocate(s.key, s.flags, s.exptime, s.length);
    if (!item) {
        // Answered once the refused data block has been read past, as memcached does.
        readPast(std::size_t(s.length) + 2,
                 s.noreply ? nullptr : "SERVER_ERROR object too large for cache\r\n");
        if (s.mode == StoreMode::Set && !s.isCas) // a failed set must not leave the old value
            ctx_.store.remove(s.key);
        return;
    }
    pending_ = std::make_unique<Pending>();
    pending_->item = std::move(item);
    pending_->mode = s.mode;
    pending_->noreply = s.noreply;
    pending_->cas = s.isCas && s.cas == 0 ? ~0ull : s.cas; // "cas k ... 0" can never match
}

void MemcacheSession::remove(const Command &c, std::string &out) {
    const Delete &d = c.as<Delete>();
    DeleteStatus r = ctx_.store.remove(d.key);
    if (!d.noreply)
        putLine(out, r == DeleteStatus::Deleted ? "DELETED" : "NOT_FOUND");
}

void MemcacheSession::arithmetic(const Command &c, std::string &out) {
    const Arithmetic &a = c.as<Arithmetic>();
    std::uint64_t result = 0;
    ArithStatus r = ctx_.store.arithmetic(a.key, a.incr, a.delta, &result);
    if (a.noreply)
        return;
    switch (r) {
    case ArithStatus::Ok:
        putNum(out, result);
        out.append("\r\n");
        break;
    case ArithStatus::NotFound:
        putLine(out, "NOT_FOUND");
        break;
    case ArithStatus::NonNumeric:
        putLine(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        break;
    case ArithStatus::Exists:
        putLine(out, "EXISTS");
        break;
    case ArithStatus::NotStored:
        putLine(out, "SERVER_ERROR out of memory");
        break;
    }
}

void MemcacheSession::touch(const Command &c, std::string &out) {
    const Touch &t = c.as<Touch>();
    ctx_.stats.cmdTouch.fetch_add(1, std::memory_order_relaxed);
    TouchStatus r = ctx_.store.touch(t.key, t.exptime);
    if (!t.noreply)
        putLine(out, r == TouchStatus::Touched ? "TOUCHED" : "NOT_FOUND");
}

void MemcacheSession::flushAll(const Command &c, std::string &out) {
    const FlushAll &f = c.as<FlushAll>();
    ctx_.stats.cmdFlush.fetch_add(1, std::memory_order_relaxed);
    ctx_.store.flushAll(f.delay);
    if (!f.noreply)
        putLine(out, "OK");
}

void MemcacheSession::verbosity(const Command &c, std::string &out) {
    const Verbosity &v = c.as<Verbosity>();
    ctx_.verbosity.store(static_cast<unsigned>(std::min<std::uint64_t>(v.level, 2)),
                         std::memory_order_relaxed);
    if (!v.noreply)
        putLine(out, "OK");
}

void MemcacheSession::cacheMemlimit(const Command &c, std::string &out) {
    const CacheMemlimit &m = c.as<CacheMemlimit>();
    ctx_.store.setMemoryLimit(m.megabytes << 20);
    if (!m.noreply)
        putLine(out, "OK");
}

} // namespace fc::cache
