#include "cache/protocol/memcache.h"

#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace fc::cache {

namespace {

using Tokens = std::vector<std::string_view>;

void put(std::string &out, std::string_view s) {
    out.append(s);
}
void putNum(std::string &out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}
void putSigned(std::string &out, std::int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// memcached's safe_strtoull: decimal digits only, no sign, no trailing junk.
bool parseU64(std::string_view s, std::uint64_t &v) {
    if (s.empty())
        return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
// memcached's safe_strtoul into a uint32_t: accepts what strtoul accepts and truncates.
bool parseFlags(std::string_view s, std::uint32_t &v) {
    std::uint64_t x;
    if (!parseU64(s, x))
        return false;
    v = static_cast<std::uint32_t>(x);
    return true;
}
// memcached's safe_strtol: optional '-' sign.
bool parseI64(std::string_view s, std::int64_t &v) {
    if (s.empty())
        return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
// Exptimes and lengths: memcached reads them with strtol into an int; we accept any 64-bit value
// and let the caller range-check (exptimes are clamped by the store).
bool parseI32(std::string_view s, std::int64_t &v) {
    return parseI64(s, v);
}

void tokenize(std::string_view line, Tokens &tok) {
    tok.clear();
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ')
            ++i;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ')
            ++i;
        if (i > start)
            tok.push_back(line.substr(start, i - start));
    }
}

bool base64Decode(std::string_view in, std::string &out) {
    if (in.empty() || in.size() % 4 != 0 || in.size() > 4 * ((kMaxKeyLength + 2) / 3))
        return false;
    out.resize(in.size() / 4 * 3);
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(in.data()),
                            static_cast<int>(in.size()));
    if (n < 0)
        return false;
    std::size_t len = static_cast<std::size_t>(n);
    if (in.back() == '=')
        --len;
    if (in[in.size() - 2] == '=')
        --len;
    out.resize(len);
    return !out.empty() && out.size() <= kMaxKeyLength;
}

// Meta flags of one command: which single-character flags were given and their tokens, in
// order (responses echo return flags in request order).
struct MetaFlags {
    std::uint64_t seen = 0; // bit per flag character
    std::string_view token[128];
    std::string_view order[64];
    std::size_t count = 0;
    bool has(char c) const { return seen & bit(c); }
    static std::uint64_t bit(char c) {
        if (c >= 'A' && c <= 'Z')
            return 1ull << (c - 'A');
        if (c >= 'a' && c <= 'z')
            return 1ull << (26 + c - 'a');
        return 0;
    }
    std::string_view tok(char c) const { return token[static_cast<unsigned char>(c)]; }
};

// Parses flags; returns an error string or nullptr. `allowed` lists the flags this command takes.
// memcached 1.6 words the error per command: mg and ms say "invalid flag" or "duplicate flag",
// md and ma say "invalid or duplicate flag" for both (`oneMessage`).
const char *parseMetaFlags(const Tokens &tok, std::size_t from, std::string_view allowed,
                           MetaFlags &f, bool oneMessage = false) {
    for (std::size_t i = from; i < tok.size(); ++i) {
        std::string_view t = tok[i];
        char c = t[0];
        if (c == 'P' || c == 'L') // proxy hints, ignored (protocol.txt)
            continue;
        std::uint64_t b = MetaFlags::bit(c);
        if (b == 0 || allowed.find(c) == std::string_view::npos)
            return oneMessage ? "CLIENT_ERROR invalid or duplicate flag"
                              : "CLIENT_ERROR invalid flag";
        if (f.seen & b)
            return oneMessage ? "CLIENT_ERROR invalid or duplicate flag"
                              : "CLIENT_ERROR duplicate flag";
        f.seen |= b;
        f.token[static_cast<unsigned char>(c)] = t.substr(1);
        if (f.count < 64)
            f.order[f.count++] = t;
    }
    if (f.has('O') && f.tok('O').size() > 32)
        return "CLIENT_ERROR opaque token too long";
    return nullptr;
}

// Appends the O/k/b flags that every meta response echoes.
void putOpaqueAndKey(std::string &out, const MetaFlags &f, std::string_view keyToken) {
    for (std::size_t i = 0; i < f.count; ++i) {
        char c = f.order[i][0];
        if (c == 'O') {
            out.append(" ");
            out.append(f.order[i]);
        } else if (c == 'k') {
            out.append(" k");
            out.append(keyToken);
        }
    }
    if (f.has('b') && f.has('k'))
        out.append(" b");
}

} // namespace

// A storage command waiting for its data block.
struct MemcacheSession::Pending {
    ItemRef item;
    StoreMode mode = StoreMode::Set;
    std::uint64_t cas = 0;
    bool noreply = false;
    std::size_t filled = 0; // value bytes received
    std::size_t term = 0;   // bytes of the trailing "\r\n" received
    bool termOk = true;
    // meta set
    bool meta = false;
    bool invalidate = false;
    MetaFlags flags;
    std::string keyToken; // the key as the client wrote it (base64 when 'b')
    std::string line;     // keeps the flag tokens alive
};

MemcacheSession::MemcacheSession(ProtocolContext &ctx) : ctx_(ctx) {}
MemcacheSession::~MemcacheSession() {
    delete pending_;
}

MemcacheSession::Status MemcacheSession::feed(const char *data, std::size_t len,
                                              std::size_t &consumed, std::string &out) {
    std::size_t pos = 0;
    Status st = Status::NeedMore;
    while (pos < len) {
        if (swallow_ > 0) {
            std::size_t n = std::min(swallow_, len - pos);
            pos += n;
            swallow_ -= n;
            if (swallow_ == 0 && swallowReply_) {
                put(out, swallowReply_);
                swallowReply_ = nullptr;
            }
            continue;
        }
        if (pending_) {
            Pending &p = *pending_;
            std::size_t need = p.item->valueLen - p.filled;
            if (need > 0) {
                std::size_t n = std::min(need, len - pos);
                std::memcpy(p.item->valueData() + p.filled, data + pos, n);
                p.filled += n;
                pos += n;
                continue;
            }
            // The data block must end with "\r\n" (memcached: "bad data chunk" otherwise).
            while (p.term < 2 && pos < len) {
                if (data[pos] != "\r\n"[p.term])
                    p.termOk = false;
                ++p.term;
                ++pos;
            }
            if (p.term < 2)
                break;
            finishStore(out);
            continue;
        }
        const char *nl = static_cast<const char *>(std::memchr(data + pos, '\n', len - pos));
        if (!nl) {
            if (len - pos > kMaxLine) {
                put(out, "CLIENT_ERROR line too long\r\n");
                pos = len;
                st = Status::Close;
            }
            break;
        }
        std::string_view line(data + pos, static_cast<std::size_t>(nl - (data + pos)));
        pos = static_cast<std::size_t>(nl - data) + 1;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        Status c = command(line, out);
        if (c != Status::NeedMore) {
            st = c;
            if (c == Status::Watch) // what follows a watch is not read (memcached ignores it)
                pos = len;
            break;
        }
    }
    consumed = pos;
    ctx_.stats.bytesRead.fetch_add(pos, std::memory_order_relaxed);
    return st;
}

MemcacheSession::Status MemcacheSession::command(std::string_view line, std::string &out) {
    thread_local Tokens tok;
    tokenize(line, tok);
    const std::size_t n = tok.size();
    if (n == 0) {
        put(out, "ERROR\r\n");
        return Status::NeedMore;
    }
    std::string_view cmd = tok[0];
    if (cmd == "get" || cmd == "gets") {
        if (n < 2)
            put(out, "ERROR\r\n");
        else
            textGet(tok.data(), n, cmd == "gets", false, out);
    } else if (cmd == "gat" || cmd == "gats") {
        if (n < 3)
            put(out, "ERROR\r\n");
        else
            textGet(tok.data(), n, cmd == "gats", true, out);
    } else if (cmd == "set" || cmd == "add" || cmd == "replace" || cmd == "append" ||
               cmd == "prepend" || cmd == "cas") {
        textStore(tok.data(), n, out);
    } else if (cmd == "delete") {
        if (n < 2) {
            put(out, "ERROR\r\n");
        } else if (tok[1].size() > kMaxKeyLength) {
            put(out, "CLIENT_ERROR bad command line format\r\n");
        } else {
            bool noreply = tok[n - 1] == "noreply";
            bool valid = n == 2 || (n == 3 && (tok[2] == "0" || noreply)) ||
                         (n == 4 && tok[2] == "0" && noreply);
            if (!valid) {
                put(out,
                    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
            } else {
                DeleteStatus r = ctx_.store.remove(tok[1]);
                if (!noreply)
                    put(out, r == DeleteStatus::Deleted ? "DELETED\r\n" : "NOT_FOUND\r\n");
            }
        }
    } else if (cmd == "incr" || cmd == "decr") {
        if (n < 3)
            put(out, "ERROR\r\n");
        else
            textArith(tok.data(), n, cmd == "incr", out);
    } else if (cmd == "touch") {
        if (n < 3) {
            put(out, "ERROR\r\n");
        } else if (tok[1].size() > kMaxKeyLength) {
            put(out, "CLIENT_ERROR bad command line format\r\n");
        } else {
            bool noreply = tok[n - 1] == "noreply";
            std::int64_t exptime;
            if (!parseI32(tok[2], exptime)) {
                put(out, "CLIENT_ERROR invalid exptime argument\r\n");
            } else {
                ctx_.stats.cmdTouch.fetch_add(1, std::memory_order_relaxed);
                TouchStatus r = ctx_.store.touch(tok[1], exptime);
                if (!noreply)
                    put(out, r == TouchStatus::Touched ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
            }
        }
    } else if (cmd == "mg") {
        metaGet(tok.data(), n, out);
    } else if (cmd == "ms") {
        metaSet(tok.data(), n, out);
    } else if (cmd == "md") {
        metaDelete(tok.data(), n, out);
    } else if (cmd == "ma") {
        metaArith(tok.data(), n, out);
    } else if (cmd == "mn") {
        put(out, "MN\r\n");
    } else if (cmd == "me") {
        metaDebug(tok.data(), n, out);
    } else if (cmd == "flush_all") {
        bool noreply = tok[n - 1] == "noreply";
        std::size_t args = n - 1 - (noreply ? 1 : 0);
        std::int64_t delay = 0;
        if (args > 1 || (args == 1 && !parseI32(tok[1], delay))) {
            put(out, "CLIENT_ERROR invalid exptime argument\r\n");
        } else {
            ctx_.stats.cmdFlush.fetch_add(1, std::memory_order_relaxed);
            ctx_.store.flushAll(delay);
            if (!noreply)
                put(out, "OK\r\n");
        }
    } else if (cmd == "version") {
        put(out, "VERSION ");
        put(out, ctx_.version);
        put(out, "\r\n");
    } else if (cmd == "verbosity") {
        bool noreply = tok[n - 1] == "noreply";
        std::uint64_t level = 0;
        if (n < 2 || n > 3) {
            put(out, "ERROR\r\n");
        } else if (n == 2 && noreply) {
            // "verbosity noreply": nothing to set, nothing to say.
        } else if (!parseU64(tok[1], level)) {
            put(out, "CLIENT_ERROR bad command line format\r\n");
        } else {
            ctx_.verbosity.store(static_cast<unsigned>(std::min<std::uint64_t>(level, 2)),
                                 std::memory_order_relaxed);
            if (!noreply)
                put(out, "OK\r\n");
        }
    } else if (cmd == "stats") {
        textStats(tok.data(), n, out);
    } else if (cmd == "cache_memlimit") {
        std::uint64_t mb;
        if (n < 2 || !parseU64(tok[1], mb) || mb == 0) {
            put(out, "CLIENT_ERROR bad command line format\r\n");
        } else {
            ctx_.store.setMemoryLimit(mb << 20);
            if (tok[n - 1] != "noreply")
                put(out, "OK\r\n");
        }
    } else if (cmd == "quit") {
        return Status::Close;
    } else if (cmd == "watch") {
        // memcached 1.6: the connection becomes a log stream (cache/store/watch.h).
        watchKinds_ = parseWatchArgs(tok.data() + 1, n - 1);
        if (!watchKinds_) {
            put(out, "ERROR\r\n");
        } else {
            put(out, "OK\r\n");
            return Status::Watch;
        }
    } else {
        put(out, "ERROR\r\n");
    }
    return Status::NeedMore;
}

void MemcacheSession::textGet(std::string_view *tok, std::size_t n, bool withCas, bool touch,
                              std::string &out) {
    std::size_t first = 1;
    Store::GetOptions opts;
    if (touch) {
        if (!parseI32(tok[1], opts.exptime)) {
            put(out, "CLIENT_ERROR invalid exptime argument\r\n");
            return;
        }
        opts.touch = true;
        first = 2;
        ctx_.stats.cmdTouch.fetch_add(n - first, std::memory_order_relaxed);
    }
    for (std::size_t i = first; i < n; ++i) {
        std::string_view key = tok[i];
        if (key.size() > kMaxKeyLength) {
            put(out, "CLIENT_ERROR bad command line format\r\n");
            return;
        }
        ctx_.stats.cmdGet.fetch_add(1, std::memory_order_relaxed);
        ItemRef it = ctx_.store.lookup(key, opts);
        if (!it)
            continue;
        put(out, "VALUE ");
        put(out, key);
        out.push_back(' ');
        putNum(out, it->flags);
        out.push_back(' ');
        putNum(out, it->valueLen);
        if (withCas) {
            out.push_back(' ');
            putNum(out, it->cas.load(std::memory_order_relaxed));
        }
        put(out, "\r\n");
        put(out, it->value());
        put(out, "\r\n");
    }
    put(out, "END\r\n");
}

void MemcacheSession::textStore(std::string_view *tok, std::size_t n, std::string &out) {
    std::string_view cmd = tok[0];
    const bool isCas = cmd == "cas";
    if (n < (isCas ? 6u : 5u)) {
        put(out, "ERROR\r\n");
        return;
    }
    bool noreply = tok[n - 1] == "noreply";
    std::string_view key = tok[1];
    std::uint32_t flags;
    std::int64_t exptime, vlen;
    std::uint64_t cas = 0;
    if (key.size() > kMaxKeyLength || !parseFlags(tok[2], flags) || !parseI32(tok[3], exptime) ||
        !parseI32(tok[4], vlen) || vlen < 0 || vlen > INT32_MAX - 2 ||
        (isCas && !parseU64(tok[5], cas))) {
        // memcached does not swallow the data block here: it is read as the next command.
        put(out, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    ctx_.stats.cmdSet.fetch_add(1, std::memory_order_relaxed);
    ItemRef item = ctx_.store.allocate(key, flags, exptime, static_cast<std::uint32_t>(vlen));
    if (!item) {
        // Answered once the refused data block has been read past, as memcached does.
        if (!noreply)
            swallowReply_ = "SERVER_ERROR object too large for cache\r\n";
        swallow_ = static_cast<std::size_t>(vlen) + 2;
        if (cmd == "set") // memcached: a failed set must not leave the old value readable
            ctx_.store.remove(key);
        return;
    }
    auto *p = new Pending;
    p->item = std::move(item);
    p->noreply = noreply;
    p->cas = cas;
    p->mode = cmd == "add"       ? StoreMode::Add
              : cmd == "replace" ? StoreMode::Replace
              : cmd == "append"  ? StoreMode::Append
              : cmd == "prepend" ? StoreMode::Prepend
                                 : StoreMode::Set;
    if (isCas && cas == 0)
        p->cas = ~0ull; // "cas k ... 0" can never match
    pending_ = p;
}

void MemcacheSession::finishStore(std::string &out) {
    Pending &p = *pending_;
    if (!p.termOk) {
        put(out, "CLIENT_ERROR bad data chunk\r\n");
        delete pending_;
        pending_ = nullptr;
        return;
    }
    std::uint64_t casOut = 0;
    StoreStatus r = ctx_.store.store(p.mode, p.item, p.cas, &casOut, p.invalidate);
    if (!p.meta) {
        if (!p.noreply) {
            switch (r) {
            case StoreStatus::Stored:
                put(out, "STORED\r\n");
                break;
            case StoreStatus::NotStored:
                put(out, "NOT_STORED\r\n");
                break;
            case StoreStatus::Exists:
                put(out, "EXISTS\r\n");
                break;
            case StoreStatus::NotFound:
                put(out, "NOT_FOUND\r\n");
                break;
            case StoreStatus::TooLarge:
                put(out, "SERVER_ERROR object too large for cache\r\n");
                break;
            case StoreStatus::OutOfMemory:
                put(out, "SERVER_ERROR out of memory storing object\r\n");
                break;
            }
        }
    } else {
        const MetaFlags &f = p.flags;
        const char *code = "HD";
        switch (r) {
        case StoreStatus::Stored:
            code = "HD";
            break;
        case StoreStatus::NotStored:
            code = "NS";
            break;
        case StoreStatus::Exists:
            code = "EX";
            break;
        case StoreStatus::NotFound:
            code = "NF";
            break;
        case StoreStatus::TooLarge:
            put(out, "SERVER_ERROR object too large for cache\r\n");
            code = nullptr;
            break;
        case StoreStatus::OutOfMemory:
            put(out, "SERVER_ERROR out of memory storing object\r\n");
            code = nullptr;
            break;
        }
        if (code && !(p.noreply && r == StoreStatus::Stored)) {
            put(out, code);
            for (std::size_t i = 0; i < f.count; ++i) {
                char c = f.order[i][0];
                if (c == 'c') {
                    put(out, " c");
                    putNum(out, r == StoreStatus::Stored ? casOut : 0);
                } else if (c == 'O') {
                    out.push_back(' ');
                    put(out, f.order[i]);
                } else if (c == 'k') {
                    put(out, " k");
                    put(out, p.keyToken);
                }
            }
            if (f.has('b') && f.has('k'))
                put(out, " b");
            put(out, "\r\n");
        }
    }
    delete pending_;
    pending_ = nullptr;
}

void MemcacheSession::textArith(std::string_view *tok, std::size_t n, bool incr, std::string &out) {
    std::string_view key = tok[1];
    bool noreply = tok[n - 1] == "noreply";
    if (key.size() > kMaxKeyLength) {
        put(out, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    std::uint64_t delta;
    if (!parseU64(tok[2], delta)) {
        put(out, "CLIENT_ERROR invalid numeric delta argument\r\n");
        return;
    }
    std::uint64_t result = 0;
    ArithStatus r = ctx_.store.arithmetic(key, incr, delta, &result);
    if (noreply)
        return;
    switch (r) {
    case ArithStatus::Ok:
        putNum(out, result);
        put(out, "\r\n");
        break;
    case ArithStatus::NotFound:
        put(out, "NOT_FOUND\r\n");
        break;
    case ArithStatus::NonNumeric:
        put(out, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        break;
    case ArithStatus::Exists:
        put(out, "EXISTS\r\n");
        break;
    case ArithStatus::NotStored:
        put(out, "SERVER_ERROR out of memory\r\n");
        break;
    }
}

// --- meta commands ----------------------------------------------------------------------------

namespace {
// Resolves the key of a meta command (base64 with 'b'). Returns an error or nullptr.
const char *metaKey(std::string_view token, const MetaFlags &f, std::string &decoded,
                    std::string_view &key) {
    if (f.has('b')) {
        if (!base64Decode(token, decoded))
            return "CLIENT_ERROR error decoding key";
        key = decoded;
        return nullptr;
    }
    if (token.size() > kMaxKeyLength)
        return "CLIENT_ERROR bad command line format";
    key = token;
    return nullptr;
}
} // namespace

void MemcacheSession::metaGet(std::string_view *tok, std::size_t n, std::string &out) {
    if (n < 2) {
        put(out, "ERROR\r\n");
        return;
    }
    if (tok[1].size() > kMaxKeyLength * 2) {
        put(out, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    MetaFlags f;
    Tokens all(tok, tok + n);
    if (const char *err = parseMetaFlags(all, 2, "bcfhklOqstuvNRT", f)) {
        put(out, err);
        put(out, "\r\n");
        return;
    }
    std::string decoded;
    std::string_view key;
    if (const char *err = metaKey(tok[1], f, decoded, key)) {
        put(out, err);
        put(out, "\r\n");
        return;
    }
    Store::GetOptions o;
    o.bump = !f.has('u');
    if (f.has('T') && !parseI32(f.tok('T'), o.exptime)) {
        put(out, "CLIENT_ERROR bad token in command line format\r\n");
        return;
    }
    o.touch = f.has('T');
    if (f.has('N')) {
        o.vivify = true;
        if (!parseI32(f.tok('N'), o.vivifyExptime)) {
            put(out, "CLIENT_ERROR bad token in command line format\r\n");
            return;
        }
    }
    if (f.has('R')) {
        o.recache = true;
        if (!parseI32(f.tok('R'), o.recacheBelow)) {
            put(out, "CLIENT_ERROR bad token in command line format\r\n");
            return;
        }
    }
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats.cmdGet.fetch_add(1, std::memory_order_relaxed);
    if (o.touch)
        ctx_.stats.cmdTouch.fetch_add(1, std::memory_order_relaxed);
    LookupInfo info;
    ItemRef it = ctx_.store.lookup(key, o, &info);
    if (!it) {
        if (!f.has('q')) {
            put(out, "EN");
            putOpaqueAndKey(out, f, tok[1]);
            put(out, "\r\n");
        }
        return;
    }
    const bool value = f.has('v');
    if (value) {
        put(out, "VA ");
        putNum(out, it->valueLen);
    } else {
        put(out, "HD");
    }
    for (std::size_t i = 0; i < f.count; ++i) {
        char c = f.order[i][0];
        switch (c) {
        case 'c':
            put(out, " c");
            putNum(out, it->cas.load(std::memory_order_relaxed));
            break;
        case 'f':
            put(out, " f");
            putNum(out, it->flags);
            break;
        case 'h':
            put(out, info.hitBefore ? " h1" : " h0");
            break;
        case 'k':
            put(out, " k");
            put(out, tok[1]);
            break;
        case 'l':
            put(out, " l");
            putNum(out, info.lastAccessAgo);
            break;
        case 'O':
            out.push_back(' ');
            put(out, f.order[i]);
            break;
        case 's':
            put(out, " s");
            putNum(out, it->valueLen);
            break;
        case 't':
            put(out, " t");
            putSigned(out, ctx_.store.ttlRemaining(*it));
            break;
        default:
            break;
        }
    }
    if (f.has('b') && f.has('k'))
        put(out, " b");
    // memcached's order: Z (someone else already won), X (stale), W (this caller won).
    if (info.wonAlreadySent && !info.won)
        put(out, " Z");
    if (info.stale)
        put(out, " X");
    if (info.won)
        put(out, " W");
    put(out, "\r\n");
    if (value) {
        put(out, it->value());
        put(out, "\r\n");
    }
}

void MemcacheSession::metaSet(std::string_view *tok, std::size_t n, std::string &out) {
    if (n < 3) {
        put(out, "ERROR\r\n");
        return;
    }
    std::int64_t vlen;
    if (!parseI32(tok[2], vlen) || vlen < 0) {
        put(out, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    auto *p = new Pending;
    p->meta = true;
    // Keep the tokens alive for the response: copy the line's flag tokens into the Pending.
    for (std::size_t i = 3; i < n; ++i) {
        p->line.append(tok[i]);
        p->line.push_back(' ');
    }
    Tokens own;
    tokenize(p->line, own);
    const char *err = parseMetaFlags(own, 0, "bcCFIkOqTMS", p->flags);
    std::string decoded;
    std::string_view key;
    if (!err)
        err = metaKey(tok[1], p->flags, decoded, key);
    const MetaFlags &f = p->flags;
    std::uint32_t clientFlags = 0;
    std::int64_t exptime = 0;
    std::uint64_t cas = 0;
    if (!err && ((f.has('F') && !parseFlags(f.tok('F'), clientFlags)) ||
                 (f.has('T') && !parseI32(f.tok('T'), exptime)) ||
                 (f.has('C') && !parseU64(f.tok('C'), cas))))
        err = "CLIENT_ERROR bad command line format";
    if (!err && f.has('M')) {
        std::string_view m = f.tok('M');
        if (m.size() != 1 || std::string_view("EAPRS").find(m[0]) == std::string_view::npos)
            err = "CLIENT_ERROR invalid mode for ms M token";
        else
            p->mode = m[0] == 'E'   ? StoreMode::Add
                      : m[0] == 'A' ? StoreMode::Append
                      : m[0] == 'P' ? StoreMode::Prepend
                      : m[0] == 'R' ? StoreMode::Replace
                                    : StoreMode::Set;
    }
    if (err) {
        // memcached swallows the data block after a bad meta-set line.
        put(out, err);
        put(out, "\r\n");
        swallow_ = static_cast<std::size_t>(vlen) + 2;
        delete p;
        return;
    }
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats.cmdSet.fetch_add(1, std::memory_order_relaxed);
    p->item = ctx_.store.allocate(key, clientFlags, exptime, static_cast<std::uint32_t>(vlen));
    if (!p->item) {
        swallowReply_ = "SERVER_ERROR object too large for cache\r\n";
        swallow_ = static_cast<std::size_t>(vlen) + 2;
        delete p;
        return;
    }
    p->cas = cas;
    p->invalidate = f.has('I');
    p->noreply = f.has('q');
    p->keyToken = std::string(tok[1]);
    pending_ = p;
}

void MemcacheSession::metaDelete(std::string_view *tok, std::size_t n, std::string &out) {
    if (n < 2) {
        put(out, "ERROR\r\n");
        return;
    }
    MetaFlags f;
    Tokens all(tok, tok + n);
    const char *err = parseMetaFlags(all, 2, "bCIkOqT", f, true);
    std::string decoded;
    std::string_view key;
    if (!err)
        err = metaKey(tok[1], f, decoded, key);
    std::uint64_t cas = 0;
    std::int64_t exptime = 0;
    if (!err && ((f.has('C') && !parseU64(f.tok('C'), cas)) ||
                 (f.has('T') && !parseI32(f.tok('T'), exptime))))
        err = "CLIENT_ERROR bad token in command line format";
    if (err) {
        put(out, err);
        put(out, "\r\n");
        return;
    }
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    DeleteStatus r = f.has('I') ? ctx_.store.invalidate(key, cas, f.has('T'), exptime)
                                : ctx_.store.remove(key, cas);
    if (r == DeleteStatus::Deleted && f.has('q'))
        return;
    put(out, r == DeleteStatus::Deleted ? "HD" : r == DeleteStatus::NotFound ? "NF" : "EX");
    putOpaqueAndKey(out, f, tok[1]);
    put(out, "\r\n");
}

void MemcacheSession::metaArith(std::string_view *tok, std::size_t n, std::string &out) {
    if (n < 2) {
        put(out, "ERROR\r\n");
        return;
    }
    MetaFlags f;
    Tokens all(tok, tok + n);
    const char *err = parseMetaFlags(all, 2, "bCNJDTMqtcvOk", f, true);
    std::string decoded;
    std::string_view key;
    if (!err)
        err = metaKey(tok[1], f, decoded, key);
    std::uint64_t cas = 0, initial = 0, delta = 1;
    std::int64_t createTtl = 0, ttl = 0;
    bool incr = true;
    if (!err && ((f.has('C') && !parseU64(f.tok('C'), cas)) ||
                 (f.has('N') && !parseI32(f.tok('N'), createTtl)) ||
                 (f.has('J') && !parseU64(f.tok('J'), initial)) ||
                 (f.has('D') && !parseU64(f.tok('D'), delta)) ||
                 (f.has('T') && !parseI32(f.tok('T'), ttl))))
        err = "CLIENT_ERROR invalid or duplicate flag";
    if (!err && f.has('M')) {
        std::string_view m = f.tok('M');
        if (m == "I" || m == "i" || m == "+")
            incr = true;
        else if (m == "D" || m == "d" || m == "-")
            incr = false;
        else
            err = "CLIENT_ERROR invalid mode for ma M token";
    }
    if (err) {
        put(out, err);
        put(out, "\r\n");
        return;
    }
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t result = 0, casOut = 0;
    const bool createdNow = f.has('N') && !ctx_.store.lookup(key, Store::GetOptions{false, false});
    ArithStatus r = ctx_.store.arithmetic(key, incr, delta, &result, cas, &casOut, f.has('N'),
                                          initial, createTtl, f.has('T'), ttl);
    switch (r) {
    case ArithStatus::Ok:
        break;
    case ArithStatus::NonNumeric:
        put(out, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        return;
    case ArithStatus::NotFound:
    case ArithStatus::Exists:
    case ArithStatus::NotStored:
        put(out, r == ArithStatus::NotFound ? "NF" : r == ArithStatus::Exists ? "EX" : "NS");
        putOpaqueAndKey(out, f, tok[1]);
        put(out, "\r\n");
        return;
    }
    // memcached 1.6 suppresses HD under q only when the counter existed (not when N created it).
    if (f.has('q') && !f.has('v') && !createdNow)
        return;
    char num[24];
    auto nr = std::to_chars(num, num + sizeof num, result);
    std::string_view numStr(num, static_cast<std::size_t>(nr.ptr - num));
    if (f.has('v')) {
        put(out, "VA ");
        putNum(out, numStr.size());
    } else {
        put(out, "HD");
    }
    for (std::size_t i = 0; i < f.count; ++i) {
        char c = f.order[i][0];
        if (c == 't') {
            put(out, " t");
            ItemRef it = ctx_.store.lookup(key, Store::GetOptions{false, false});
            putSigned(out, it ? ctx_.store.ttlRemaining(*it) : -1);
        } else if (c == 'c') {
            put(out, " c");
            putNum(out, casOut);
        } else if (c == 'O') {
            out.push_back(' ');
            put(out, f.order[i]);
        } else if (c == 'k') {
            put(out, " k");
            put(out, tok[1]);
        }
    }
    if (f.has('b') && f.has('k'))
        put(out, " b");
    put(out, "\r\n");
    if (f.has('v')) {
        put(out, numStr);
        put(out, "\r\n");
    }
}

void MemcacheSession::metaDebug(std::string_view *tok, std::size_t n, std::string &out) {
    if (n < 2) {
        put(out, "ERROR\r\n");
        return;
    }
    MetaFlags f;
    Tokens all(tok, tok + n);
    std::string decoded;
    std::string_view key;
    const char *err = parseMetaFlags(all, 2, "b", f);
    if (!err)
        err = metaKey(tok[1], f, decoded, key);
    if (err) {
        put(out, err);
        put(out, "\r\n");
        return;
    }
    LookupInfo info;
    ItemRef it = ctx_.store.lookup(key, Store::GetOptions{false, false}, &info);
    if (!it) {
        put(out, "EN\r\n");
        return;
    }
    put(out, "ME ");
    put(out, tok[1]);
    put(out, " exp=");
    putSigned(out, ctx_.store.ttlRemaining(*it));
    put(out, " la=");
    putNum(out, info.lastAccessAgo);
    put(out, " cas=");
    putNum(out, it->cas.load(std::memory_order_relaxed));
    put(out, info.hitBefore ? " fetch=yes" : " fetch=no");
    put(out, " cls=1 size=");
    putNum(out, Store::itemFootprint(it->keyLen, it->valueLen));
    put(out, "\r\n");
}

// --- stats ------------------------------------------------------------------------------------

void MemcacheSession::textStats(std::string_view *tok, std::size_t n, std::string &out) {
    auto stat = [&](std::string_view name, std::uint64_t v) {
        put(out, "STAT ");
        put(out, name);
        out.push_back(' ');
        putNum(out, v);
        put(out, "\r\n");
    };
    auto statStr = [&](std::string_view name, std::string_view v) {
        put(out, "STAT ");
        put(out, name);
        out.push_back(' ');
        put(out, v);
        put(out, "\r\n");
    };
    const StoreStats s = ctx_.store.stats();
    const StoreConfig &cfg = ctx_.store.config();
    std::string_view sub = n > 1 ? tok[1] : std::string_view();
    if (sub.empty()) {
        std::int64_t now = ctx_.clock.now();
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        char buf[64];
        stat("pid", static_cast<std::uint64_t>(::getpid()));
        stat("uptime", static_cast<std::uint64_t>(now - ctx_.startTime));
        stat("time", static_cast<std::uint64_t>(now));
        statStr("version", ctx_.version);
        stat("pointer_size", sizeof(void *) * 8);
        std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(ru.ru_utime.tv_sec),
                      static_cast<long>(ru.ru_utime.tv_usec));
        statStr("rusage_user", buf);
        std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(ru.ru_stime.tv_sec),
                      static_cast<long>(ru.ru_stime.tv_usec));
        statStr("rusage_system", buf);
        const ProtocolStats &p = ctx_.stats;
        auto ld = [](const std::atomic<std::uint64_t> &a) {
            return a.load(std::memory_order_relaxed);
        };
        stat("max_connections", ctx_.maxConnections);
        stat("curr_connections", ld(p.currConnections));
        stat("total_connections", ld(p.totalConnections));
        stat("rejected_connections", ld(p.rejectedConnections));
        stat("connection_structures", ld(p.currConnections));
        stat("cmd_get", ld(p.cmdGet));
        stat("cmd_set", ld(p.cmdSet));
        stat("cmd_flush", ld(p.cmdFlush));
        stat("cmd_touch", ld(p.cmdTouch));
        stat("cmd_meta", ld(p.cmdMeta));
        stat("get_hits", s.getHits);
        stat("get_misses", s.getMisses);
        stat("get_expired", s.getExpired);
        stat("get_flushed", s.getFlushed);
        stat("delete_misses", s.deleteMisses);
        stat("delete_hits", s.deleteHits);
        stat("incr_misses", s.incrMisses);
        stat("incr_hits", s.incrHits);
        stat("decr_misses", s.decrMisses);
        stat("decr_hits", s.decrHits);
        stat("cas_misses", s.casMisses);
        stat("cas_hits", s.casHits);
        stat("cas_badval", s.casBadval);
        stat("touch_hits", s.touchHits);
        stat("touch_misses", s.touchMisses);
        stat("auth_cmds", 0);
        stat("auth_errors", 0);
        stat("bytes_read", ld(p.bytesRead));
        stat("bytes_written", ld(p.bytesWritten));
        stat("limit_maxbytes", s.limitMaxbytes);
        stat("threads", ctx_.threads);
        stat("hash_bytes", s.hashBuckets * sizeof(void *));
        stat("bytes", s.bytes);
        stat("curr_items", s.currItems);
        stat("total_items", s.totalItems);
        stat("expired_unfetched", s.expiredUnfetched);
        stat("evicted_unfetched", s.evictedUnfetched);
        stat("evictions", s.evictions);
        stat("reclaimed", s.reclaimed);
        if (ctx_.extraStats)
            ctx_.extraStats(out);
    } else if (sub == "settings") {
        stat("maxbytes", s.limitMaxbytes);
        stat("maxconns", ctx_.maxConnections);
        stat("num_threads", ctx_.threads);
        stat("item_size_max", cfg.itemSizeMax);
        statStr("evictions", "on");
        statStr("eviction_policy", cfg.policy == EvictionPolicy::S3Fifo ? "s3fifo" : "lru");
        stat("verbosity", ctx_.verbosity.load(std::memory_order_relaxed));
        statStr("cas_enabled", "yes");
        stat("shards", std::size_t(1) << cfg.shardBits);
    } else if (sub == "items") {
        stat("items:1:number", s.currItems);
        stat("items:1:evicted", s.evictions);
        stat("items:1:evicted_unfetched", s.evictedUnfetched);
        stat("items:1:expired_unfetched", s.expiredUnfetched);
        stat("items:1:reclaimed", s.reclaimed);
    } else if (sub == "slabs") {
        // No slab allocator: items are individually allocated. One pseudo-class keeps tools
        // that parse this output working.
        stat("1:used_chunks", s.currItems);
        stat("1:mem_requested", s.bytes);
        stat("active_slabs", s.currItems ? 1 : 0);
        stat("total_malloced", s.bytes);
    } else if (sub == "reset") {
        put(out, "RESET\r\n");
        return;
    } else {
        put(out, "ERROR\r\n");
        return;
    }
    put(out, "END\r\n");
}

} // namespace fc::cache
