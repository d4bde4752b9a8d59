// The meta commands (memcached 1.6.18's process_m*_command in proto_text.c): mg, ms, md, ma,
// me. Their flags were read by the parser (cache/memcache/command.h); what is done here is in
// the order memcached does it, flag by flag where the order shows in the answer.
#include <openssl/evp.h>

#include "cache/memcache/command.h"
#include "cache/memcache/execute.h"

namespace fc::cache {

using namespace memcache;

namespace {

constexpr std::size_t kMaxOpaque = 32; // MFLAG_MAX_OPAQUE_LENGTH

std::string base64Encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// A TTL as memcached's meta commands print it: -1 for never, else the expiry minus the current
// relative time as an unsigned 32-bit number (an item made expired by T-1 prints a wrapped
// value, as memcached's does).
void putMetaTtl(std::string &out, std::uint32_t expiresAt, std::uint32_t relNow) {
    if (expiresAt == 0)
        out.append("-1");
    else
        putNum(out, static_cast<std::uint32_t>(expiresAt - relNow));
}

// What mg learnt while writing its flags.
struct MetaGetAnswer {
    bool wantWin = false;       // N created the item, or R found its TTL short
    bool opaqueTooLong = false; // the answer stopped at an O over 32 bytes
};

// mg's flags after "VA <n>" or "HD", in request order, as memcached's answer loop writes them:
// T, N's TTL and R act where they stand (a `t` before a `T` shows the old TTL, an R after a T
// compares with the new one), a too long opaque stops the rest.
MetaGetAnswer putMetaGetFlags(std::string &out, Store &store, Item &it, const MetaFlags &f,
                              const LookupInfo &info) {
    MetaGetAnswer a;
    const std::uint32_t now = store.relNow();
    for (std::size_t i = 0; i < f.count; ++i) {
        std::string_view t = f.order[i];
        switch (t[0]) {
        case 'T':
            it.expiresAt.store(store.relativeExpiry(f.exptime), std::memory_order_relaxed);
            break;
        case 'N':
            if (info.created) {
                it.expiresAt.store(store.relativeExpiry(f.vivifyExptime),
                                   std::memory_order_relaxed);
                a.wantWin = true;
            }
            break;
        case 'R': {
            // Win the right to recache when the TTL left is below R's (not for an item just
            // created, nor when another client already won).
            const std::uint32_t e = it.expiresAt.load(std::memory_order_relaxed);
            if (!info.wonAlreadySent && !info.created && e != 0 &&
                e < store.relativeExpiry(f.recacheTime))
                a.wantWin = true;
            break;
        }
        case 's':
            out.append(" s");
            putNum(out, it.valueLen);
            break;
        case 't':
            out.append(" t");
            putMetaTtl(out, it.expiresAt.load(std::memory_order_relaxed), now);
            break;
        case 'c':
            out.append(" c");
            putNum(out, it.cas.load(std::memory_order_relaxed));
            break;
        case 'f':
            out.append(" f");
            putNum(out, it.flags);
            break;
        case 'l':
            out.append(" l");
            putNum(out, info.lastAccessAgo);
            break;
        case 'h':
            out.append(info.hitBefore ? " h1" : " h0");
            break;
        case 'O':
            if (t.size() > kMaxOpaque) {
                a.opaqueTooLong = true;
                return a;
            }
            out.push_back(' ');
            out.append(t);
            break;
        case 'k':
            // The item's own key: base64 again when a binary key stored it (ITEM_KEY_BINARY).
            if (it.bits & Item::kBinaryKey)
                putMetaKey(out, base64Encode(it.key()), true);
            else
                putMetaKey(out, it.key(), false);
            break;
        default:
            break;
        }
    }
    return a;
}

} // namespace

void MemcacheSession::metaGet(const Command &c, std::string &out) {
    const MetaGet &m = c.as<MetaGet>();
    const MetaFlags &f = m.flags;
    // The lookup itself only finds (or, with N, creates) the item; the flags act as the answer
    // is written. h, l, T, N and R make memcached look the item up without bumping it and bump
    // it once the answer is complete (h and l report the state before this request); an error
    // on the way leaves it unbumped.
    const bool delayedBump = f.has('h') || f.has('l') || f.newTtl || f.vivify || f.recache;
    Store::GetOptions o;
    o.bump = !f.noUpdate && !delayedBump;
    o.vivify = f.vivify;
    o.vivifyExptime = 0;
    o.claimWins = false;
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats.cmdGet.fetch_add(1, std::memory_order_relaxed);
    if (f.newTtl)
        ctx_.stats.cmdTouch.fetch_add(1, std::memory_order_relaxed);
    LookupInfo info;
    ItemRef it = ctx_.store.lookup(m.key, o, &info);
    if (!it) {
        if (f.opaqueTooLong())
            return putLine(out, "CLIENT_ERROR opaque token too long");
        if (!f.noReply) {
            out.append("EN");
            putOpaqueAndKey(out, m);
            out.append("\r\n");
        }
        return;
    }
    const std::size_t mark = out.size();
    if (f.value) {
        out.append("VA ");
        putNum(out, it->valueLen);
    } else {
        out.append("HD");
    }
    MetaGetAnswer a = putMetaGetFlags(out, ctx_.store, *it, f, info);
    if (a.opaqueTooLong) {
        out.resize(mark);
        return putLine(out, "CLIENT_ERROR opaque token too long");
    }
    // memcached's order: Z (someone else already won), X (stale), W (this caller won).
    // A stale item hands its token to the first client that sees it.
    const bool won =
        (a.wantWin || (info.stale && !info.wonAlreadySent)) && ctx_.store.claimWin(*it);
    if (info.wonAlreadySent)
        out.append(" Z");
    if (info.stale)
        out.append(" X");
    if (won)
        out.append(" W");
    out.append("\r\n");
    if (f.value)
        putLine(out, it->value());
    if (delayedBump && !f.noUpdate)
        ctx_.store.bump(*it);
}

void MemcacheSession::metaSet(const Command &c, std::string &) {
    const MetaSet &m = c.as<MetaSet>();
    const MetaFlags &f = m.flags;
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats.cmdSet.fetch_add(1, std::memory_order_relaxed);
    ItemRef item = ctx_.store.allocate(m.key, f.clientFlags, f.exptime, m.length);
    if (!item) {
        // Answered even under q, once the data block has been read past.
        readPast(std::size_t(m.length) + 2, "SERVER_ERROR object too large for cache\r\n");
        if (m.mode == StoreMode::Set) // as a text set: the old value must not stay readable
            ctx_.store.remove(m.key);
        return;
    }
    auto p = std::make_unique<Pending>();
    p->meta = true;
    p->mode = m.mode;
    // A CAS turns set and replace into compare-and-swap; append and prepend compare only when
    // the item exists; add ignores it. A CAS of 0 never matches.
    const bool setOrReplace = m.mode == StoreMode::Set || m.mode == StoreMode::Replace;
    if (f.hasCas && setOrReplace)
        p->cas = f.cas ? f.cas : ~0ull;
    else if (f.hasCas && m.mode != StoreMode::Add)
        p->cas = f.cas; // append/prepend: compared only when non-zero and the item exists
    if (f.keyBinary)
        item->bits |= Item::kBinaryKey; // not linked yet: no lock needed
    p->item = std::move(item);
    p->invalidate = f.setStale && f.hasCas && setOrReplace;
    p->noreply = f.noReply;
    p->keyBinary = f.keyBinary;
    p->keyToken.assign(m.keyToken);
    for (std::size_t i = 0; i < f.count; ++i) {
        const char flag = f.order[i][0];
        if (flag == 'c' || flag == 'O' || flag == 'k') {
            if (!p->echo.empty())
                p->echo.push_back(' ');
            p->echo.append(f.order[i]);
        }
    }
    pending_ = std::move(p);
}

void MemcacheSession::metaDelete(const Command &c, std::string &out) {
    const MetaDelete &m = c.as<MetaDelete>();
    const MetaFlags &f = m.flags;
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t cas = f.hasCas ? (f.cas ? f.cas : ~0ull) : 0;
    DeleteStatus r = f.setStale ? ctx_.store.invalidate(m.key, cas, f.newTtl, f.exptime)
                                : ctx_.store.remove(m.key, cas);
    if (r == DeleteStatus::Deleted && f.noReply)
        return;
    out.append(r == DeleteStatus::Deleted ? "HD" : r == DeleteStatus::NotFound ? "NF" : "EX");
    putOpaqueAndKey(out, m);
    out.append("\r\n");
}

namespace {

// The TTL ma gives a counter: memcached creates a counter with no expiry and then applies T,
// and N for a counter it created, in the order they were given: the last one is the TTL it
// keeps. Its loop stops at an opaque over 32 bytes (the answer is that error): the flags after
// it change nothing. (T on a counter that outgrows its item does not reach the stored one:
// Store::arithmetic.)
struct MetaArithTtl {
    bool set = false, setIfCreated = false;
    std::int64_t ttl = 0, ttlIfCreated = 0;
};
MetaArithTtl metaArithTtl(const MetaFlags &f) {
    MetaArithTtl t;
    for (std::size_t i = 0; i < f.count; ++i) {
        const char c = f.order[i][0];
        if (c == 'O' && f.order[i].size() > kMaxOpaque)
            break;
        if (c == 'T') {
            t.set = t.setIfCreated = true;
            t.ttl = t.ttlIfCreated = f.exptime;
        } else if (c == 'N' && f.vivify) {
            t.setIfCreated = true;
            t.ttlIfCreated = f.vivifyExptime;
        }
    }
    return t;
}

// ma's answer for a counter it changed: "VA <n>" or "HD", its flags in request order (T, and N
// for a counter it created, change the TTL where they stand), then the number with v.
void putMetaArithAnswer(std::string &out, Store &store, const Meta &m, std::uint64_t result,
                        std::uint64_t cas, bool existed, std::uint32_t expiresBefore) {
    const MetaFlags &f = m.flags;
    char num[24];
    auto nr = std::to_chars(num, num + sizeof num, result);
    const std::string_view numStr(num, static_cast<std::size_t>(nr.ptr - num));
    if (f.value) {
        out.append("VA ");
        putNum(out, numStr.size());
    } else {
        out.append("HD");
    }
    const std::uint32_t now = store.relNow();
    std::uint32_t expires = existed ? expiresBefore : 0;
    for (std::size_t i = 0; i < f.count; ++i) {
        switch (f.order[i][0]) {
        case 'T':
            expires = store.relativeExpiry(f.exptime);
            break;
        case 'N':
            if (!existed)
                expires = store.relativeExpiry(f.vivifyExptime);
            break;
        case 't':
            out.append(" t");
            putMetaTtl(out, expires, now);
            break;
        case 'c':
            out.append(" c");
            putNum(out, cas);
            break;
        case 'O':
            out.push_back(' ');
            out.append(f.order[i]);
            break;
        case 'k':
            putMetaKey(out, m.keyToken, f.keyBinary);
            break;
        default:
            break;
        }
    }
    out.append("\r\n");
    if (f.value)
        putLine(out, numStr);
}

} // namespace

void MemcacheSession::metaArithmetic(const Command &c, std::string &out) {
    const MetaArithmetic &m = c.as<MetaArithmetic>();
    const MetaFlags &f = m.flags;
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t cas = f.hasCas ? f.cas : 0; // do_add_delta compares only a non-zero CAS
    const MetaArithTtl ttl = metaArithTtl(f);
    std::uint64_t result = 0, casOut = 0;
    Store::ArithInfo ai;
    ArithStatus r =
        ctx_.store.arithmetic(m.key, m.incr, f.delta, &result, cas, &casOut, f.vivify, f.initial,
                              ttl.setIfCreated ? ttl.ttlIfCreated : 0, ttl.set, ttl.ttl, &ai);
    if (r == ArithStatus::NonNumeric)
        return putLine(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
    // memcached checks the opaque's length while writing the answer, after the operation.
    if (f.opaqueTooLong())
        return putLine(out, "CLIENT_ERROR opaque token too long");
    if (r != ArithStatus::Ok) {
        out.append(r == ArithStatus::NotFound ? "NF" : r == ArithStatus::Exists ? "EX" : "NS");
        putOpaqueAndKey(out, m);
        out.append("\r\n");
        return;
    }
    // q hides the answer of a counter that existed, not of one N created.
    if (f.noReply && !ai.created)
        return;
    putMetaArithAnswer(out, ctx_.store, m, result, casOut, !ai.created, ai.expiresBefore);
}

// me: memcached's debug line for an item — exp (its expiry minus now: negative while alive, -1
// for never), la, cas, fetch, the slab class and total size memcached would give it.
void MemcacheSession::metaDebug(const Command &c, std::string &out) {
    const MetaDebug &m = c.as<MetaDebug>();
    LookupInfo info;
    ItemRef it = ctx_.store.lookup(m.key, Store::GetOptions{false, false}, &info);
    if (!it)
        return putLine(out, "EN");
    const std::uint32_t now = ctx_.store.relNow();
    const std::uint32_t e = it->expiresAt.load(std::memory_order_relaxed);
    out.append("ME ");
    // The item's own key, base64 again when a binary key stored it (whatever the request said).
    if (it->bits & Item::kBinaryKey)
        out.append(base64Encode(it->key()));
    else
        out.append(it->key());
    out.append(" exp=");
    putSigned(out, e == 0 ? -1 : static_cast<std::int32_t>(now - e));
    out.append(" la=");
    putNum(out, info.lastAccessAgo);
    out.append(" cas=");
    putNum(out, it->cas.load(std::memory_order_relaxed));
    out.append(info.hitBefore ? " fetch=yes" : " fetch=no");
    out.append(" cls=");
    putNum(out, slabClassOf(it->keyLen, it->valueLen, it->flags));
    out.append(" size=");
    putNum(out, memcachedItemSize(it->keyLen, it->valueLen, it->flags));
    out.append("\r\n");
}

} // namespace fc::cache
