#include "cache/protocol/memcache.h"

#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cache/protocol/line.h"

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

// memcached's number parsers (util.c: safe_strtoull, safe_strtoul, safe_strtol), rule for rule:
// strto*'s leading white space and sign are accepted, the number must be followed by the end of
// the token or white space, a value out of range fails, and a negative number fails for the
// unsigned ones (strtoull would wrap it) except "-0".
template <typename T, typename F> bool mcParse(std::string_view s, T &v, F conv) {
    char buf[32];
    if (s.empty() || s.size() >= sizeof buf)
        return false; // longer than any number: memcached's strto* would fail on range
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    char *end = nullptr;
    errno = 0;
    T x = conv(buf, &end);
    if (errno == ERANGE || end == buf)
        return false;
    if (*end != '\0' && !std::isspace(static_cast<unsigned char>(*end)))
        return false;
    if constexpr (std::is_unsigned_v<T>) {
        if (static_cast<std::make_signed_t<T>>(x) < 0 && std::memchr(buf, '-', end - buf))
            return false;
    }
    v = x;
    return true;
}
// safe_strtoull: 64-bit unsigned (CAS values, deltas, initial values).
bool parseU64(std::string_view s, std::uint64_t &v) {
    return mcParse<unsigned long long>(
        s, reinterpret_cast<unsigned long long &>(v),
        [](const char *b, char **e) { return std::strtoull(b, e, 10); });
}
// safe_strtoul into a uint32_t (client flags): strtoul's 64-bit value, truncated.
bool parseFlags(std::string_view s, std::uint32_t &v) {
    unsigned long x;
    if (!mcParse<unsigned long>(s, x,
                                [](const char *b, char **e) { return std::strtoul(b, e, 10); }))
        return false;
    v = static_cast<std::uint32_t>(x);
    return true;
}
// safe_strtol into an int32_t (exptimes, lengths, TTL tokens): memcached 1.6.18 stores strtol's
// 64-bit result into an int32_t unchecked, so a larger number wraps (99999999999 becomes
// 1215752191, an absolute time long past: the item is stored already expired).
bool parseI32(std::string_view s, std::int64_t &v) {
    long x;
    if (!mcParse<long>(s, x, [](const char *b, char **e) { return std::strtol(b, e, 10); }))
        return false;
    v = static_cast<std::int32_t>(static_cast<std::uint32_t>(x));
    return true;
}
void tokenize(std::string_view line, Tokens &tok) {
    tok.clear();
    std::size_t i = 0;
    for (std::string_view t = nextToken(line, i); !t.empty(); t = nextToken(line, i))
        tok.push_back(t);
}

std::string base64Encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
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

// The flags of one meta command, parsed the way memcached 1.6's _meta_flag_preparse does: every
// known flag is accepted by every meta command (those that do not apply are ignored), a repeated
// flag or one memcached does not know ends parsing at once, and a bad value marks an error but
// parsing goes on (the last such error is the one reported).
struct MetaFlags {
    std::string_view order[24]; // the flag tokens, in request order (responses echo in order)
    std::size_t count = 0;
    std::uint64_t seen = 0; // bit per letter
    bool noReply = false, value = false, noUpdate = false, setStale = false, hasCas = false;
    bool vivify = false, newTtl = false, recache = false, keyBinary = false;
    char mode = 0;
    std::int64_t exptime = 0, vivifyExptime = 0, recacheTime = 0;
    std::uint32_t clientFlags = 0;
    std::uint64_t cas = 0, delta = 1, initial = 0;

    bool has(char c) const { return seen & bit(c); }
    static std::uint64_t bit(char c) {
        if (c >= 'A' && c <= 'Z')
            return 1ull << (c - 'A');
        if (c >= 'a' && c <= 'z')
            return 1ull << (26 + c - 'a');
        return 0;
    }
};

constexpr std::size_t kMaxMetaTokens = 20; // MFLAG_MAX_OPT_LENGTH, counting memcached's tokens
constexpr std::size_t kMaxOpaque = 32;     // MFLAG_MAX_OPAQUE_LENGTH

struct MetaParse {
    bool failed = false;
    const char *error = nullptr; // nullptr: the command's own default message
};

// Parses tok[from..] into `f`; with 'b' the key (tok[1]) is base64-decoded into `keyBuf` and
// `key` points at it.
MetaParse preparseMeta(const std::string_view *tok, std::size_t n, std::size_t from, MetaFlags &f,
                       std::string &keyBuf, std::string_view &key) {
    MetaParse r;
    bool seenChar[128] = {};
    for (std::size_t i = from; i < n; ++i) {
        std::string_view t = tok[i];
        unsigned char o = static_cast<unsigned char>(t[0]);
        if (o >= 127 || seenChar[o])
            return {true, "CLIENT_ERROR duplicate flag"};
        seenChar[o] = true;
        std::string_view v = t.substr(1);
        switch (o) {
        case 'b':
            if (!base64Decode(tok[1], keyBuf)) {
                r = {true, "CLIENT_ERROR error decoding key"};
            } else {
                key = keyBuf;
            }
            f.keyBinary = true;
            break;
        case 'N':
        case 'T':
        case 'R': {
            std::int64_t x;
            if (!parseI32(v, x)) {
                r = {true, "CLIENT_ERROR bad token in command line format"};
                break;
            }
            if (o == 'N') {
                f.vivify = true;
                f.vivifyExptime = x;
            } else if (o == 'T') {
                f.newTtl = true;
                f.exptime = x;
            } else {
                f.recache = true;
                f.recacheTime = x;
            }
            break;
        }
        case 'l':
        case 'O':
        case 'P':
        case 'L':
        case 'k':
        case 's':
        case 't':
        case 'c':
        case 'f':
        case 'h':
            break;
        case 'v':
            f.value = true;
            break;
        case 'u':
            f.noUpdate = true;
            break;
        case 'q':
            f.noReply = true;
            break;
        case 'F':
            if (!parseFlags(v, f.clientFlags))
                r.failed = true; // memcached sets no message: the command's default
            break;
        case 'C':
            if (!parseU64(v, f.cas))
                r = {true, "CLIENT_ERROR bad token in command line format"};
            else
                f.hasCas = true;
            break;
        case 'M':
            if (t.size() != 2)
                r = {true, "CLIENT_ERROR incorrect length for M token"};
            else
                f.mode = t[1];
            break;
        case 'J':
            if (!parseU64(v, f.initial))
                r = {true, "CLIENT_ERROR invalid numeric initial value"};
            break;
        case 'D':
            if (!parseU64(v, f.delta))
                r = {true, "CLIENT_ERROR invalid numeric delta value"};
            break;
        case 'I':
            f.setStale = true;
            break;
        default:
            return {true, "CLIENT_ERROR invalid flag"};
        }
        f.seen |= MetaFlags::bit(static_cast<char>(o));
        if (f.count < std::size(f.order))
            f.order[f.count++] = t;
    }
    return r;
}

// " k<key>" as memcached's META_KEY writes it: base64 again, then " b", for a binary key.
void putMetaKey(std::string &out, std::string_view keyToken, bool binary) {
    out.append(" k");
    out.append(keyToken);
    if (binary)
        out.append(" b");
}

// The O and k flags, in request order: what every meta answer without an item echoes.
void putOpaqueAndKey(std::string &out, const MetaFlags &f, std::string_view keyToken) {
    for (std::size_t i = 0; i < f.count; ++i) {
        char c = f.order[i][0];
        if (c == 'O') {
            out.push_back(' ');
            out.append(f.order[i]);
        } else if (c == 'k') {
            putMetaKey(out, keyToken, f.keyBinary);
        }
    }
}

bool opaqueTooLong(const MetaFlags &f) {
    for (std::size_t i = 0; i < f.count; ++i)
        if (f.order[i][0] == 'O' && f.order[i].size() > kMaxOpaque)
            return true;
    return false;
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

MemcacheSession::MemcacheSession(ProtocolContext &ctx, std::shared_ptr<const AuthUsers> users)
    : ctx_(ctx), auth_(users ? std::make_unique<AsciiAuth>(std::move(users)) : nullptr) {}
MemcacheSession::~MemcacheSession() {
    delete pending_;
}

MemcacheSession::Status MemcacheSession::feed(const char *data, std::size_t len,
                                              std::size_t &consumed, std::string &out) {
    std::size_t pos = 0;
    if (auth_) {
        AsciiAuth::Status a = auth_->feed(data, len, pos, out, ctx_.stats);
        if (a != AsciiAuth::Status::Authenticated) {
            consumed = pos;
            return a == AsciiAuth::Status::Close ? Status::Close : Status::NeedMore;
        }
        auth_.reset(); // logged in: the rest is ordinary commands
    }
    const std::size_t loginBytes = pos; // counted in bytes_read by the login already
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
        std::string_view line;
        if (!takeLine(data, len, pos, line)) {
            if (len - pos > kMaxLine) {
                put(out, "CLIENT_ERROR line too long\r\n");
                pos = len;
                st = Status::Close;
            }
            break;
        }
        Status c = command(line, out);
        if (c != Status::NeedMore) {
            st = c;
            if (c == Status::Watch) // what follows a watch is not read (memcached ignores it)
                pos = len;
            break;
        }
    }
    consumed = pos;
    ctx_.stats.bytesRead.fetch_add(pos - loginBytes, std::memory_order_relaxed);
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
        if (n < 2) // "gat 10" with no key is an empty answer, as in memcached
            put(out, "ERROR\r\n");
        else
            textGet(tok.data(), n, cmd == "gats", true, out);
    } else if (cmd == "set" || cmd == "add" || cmd == "replace" || cmd == "append" ||
               cmd == "prepend" || cmd == "cas") {
        textStore(tok.data(), n, out);
    } else if (cmd == "delete") {
        // memcached answers its own errors too with nothing under noreply (out_string).
        bool noreply = n > 2 && tok[n - 1] == "noreply";
        bool valid = n == 2 || (n == 3 && (tok[2] == "0" || noreply)) ||
                     (n == 4 && tok[2] == "0" && noreply);
        if (n < 2 || n > 4) {
            put(out, "ERROR\r\n");
        } else if (!valid) {
            if (!noreply)
                put(out,
                    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
        } else if (tok[1].size() > kMaxKeyLength) {
            if (!noreply)
                put(out, "CLIENT_ERROR bad command line format\r\n");
        } else {
            DeleteStatus r = ctx_.store.remove(tok[1]);
            if (!noreply)
                put(out, r == DeleteStatus::Deleted ? "DELETED\r\n" : "NOT_FOUND\r\n");
        }
    } else if (cmd == "incr" || cmd == "decr") {
        if (n != 3 && n != 4)
            put(out, "ERROR\r\n");
        else
            textArith(tok.data(), n, cmd == "incr", out);
    } else if (cmd == "touch") {
        bool noreply = tok[n - 1] == "noreply";
        if (n != 3 && n != 4) {
            put(out, "ERROR\r\n");
        } else if (tok[1].size() > kMaxKeyLength) {
            if (!noreply)
                put(out, "CLIENT_ERROR bad command line format\r\n");
        } else {
            std::int64_t exptime;
            if (!parseI32(tok[2], exptime)) {
                if (!noreply)
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
        if (n > 3) {
            put(out, "ERROR\r\n");
        } else if (args == 1 && !parseI32(tok[1], delay)) {
            if (!noreply)
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
    const std::size_t mark = out.size();
    for (std::size_t i = first; i < n; ++i) {
        std::string_view key = tok[i];
        if (key.size() > kMaxKeyLength) {
            // memcached drops the values it had gathered for this command: only the error.
            out.resize(mark);
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
    if (n != (isCas ? 6u : 5u) && n != (isCas ? 7u : 6u)) {
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
        // memcached does not swallow the data block here: it is read as the next command; its
        // error, like every text answer, is hidden by noreply.
        if (!noreply)
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
        // memcached: hidden by a text command's noreply, always shown to ms.
        if (p.meta || !p.noreply)
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
                    putMetaKey(out, p.keyToken, f.keyBinary);
                }
            }
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
        if (!noreply)
            put(out, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    std::uint64_t delta;
    if (!parseU64(tok[2], delta)) {
        if (!noreply)
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
//
// Each follows memcached 1.6.18's order of checks (proto_text.c), so every malformed line gets
// the same answer: fewer than two tokens is ERROR; a key token over 250 bytes, then more than
// 17 flags, then the flags (preparseMeta); ms reads its data length before the flags so a bad
// line's data block can be swallowed; md and ma answer any flag error with one message.

namespace {
// A TTL as memcached's meta commands print it: -1 for never, else the expiry minus the current
// relative time as an unsigned 32-bit number (an item made expired by T-1 prints a wrapped
// value, as memcached's does).
void putMetaTtl(std::string &out, std::uint32_t expiresAt, std::uint32_t relNow) {
    if (expiresAt == 0)
        out.append("-1");
    else
        putNum(out, static_cast<std::uint32_t>(expiresAt - relNow));
}

bool metaCommon(const std::string_view *tok, std::size_t n, const char *tooLong, std::string &out) {
    if (n < 2) {
        put(out, "ERROR\r\n");
        return false;
    }
    if (tok[1].size() > kMaxKeyLength) {
        put(out, "CLIENT_ERROR bad command line format\r\n");
        return false;
    }
    if (n + 1 > kMaxMetaTokens) { // memcached counts a final empty token
        put(out, tooLong);
        return false;
    }
    return true;
}

void putError(std::string &out, const char *e) {
    put(out, e ? e : "CLIENT_ERROR bad command line format");
    put(out, "\r\n");
}
} // namespace

void MemcacheSession::metaGet(std::string_view *tok, std::size_t n, std::string &out) {
    if (!metaCommon(tok, n, "CLIENT_ERROR options flags are too long\r\n", out))
        return;
    MetaFlags f;
    std::string keyBuf;
    std::string_view key = tok[1];
    MetaParse pr = preparseMeta(tok, n, 2, f, keyBuf, key);
    if (pr.failed)
        return putError(out, pr.error);
    // The lookup itself only finds (or, with N, creates) the item; T, N's TTL and R act below in
    // the order the flags were given, as memcached's answer loop does — a `t` before a `T` shows
    // the old TTL, an R after a T compares with the new one, a too long opaque stops the rest.
    // h, l, T, N and R make memcached look the item up without bumping it and bump it once the
    // answer is complete (h and l report the state before this request); an error on the way
    // leaves it unbumped.
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
    ItemRef it = ctx_.store.lookup(key, o, &info);
    const std::size_t mark = out.size();
    if (!it) {
        if (opaqueTooLong(f))
            return putError(out, "CLIENT_ERROR opaque token too long");
        if (!f.noReply) {
            put(out, "EN");
            putOpaqueAndKey(out, f, tok[1]);
            put(out, "\r\n");
        }
        return;
    }
    if (f.value) {
        put(out, "VA ");
        putNum(out, it->valueLen);
    } else {
        put(out, "HD");
    }
    const std::uint32_t now = ctx_.store.relNow();
    bool wantWin = false; // N created the item, or R found its TTL short
    for (std::size_t i = 0; i < f.count; ++i) {
        std::string_view t = f.order[i];
        switch (t[0]) {
        case 'T':
            it->expiresAt.store(ctx_.store.relativeExpiry(f.exptime), std::memory_order_relaxed);
            break;
        case 'N':
            if (info.created) {
                it->expiresAt.store(ctx_.store.relativeExpiry(f.vivifyExptime),
                                    std::memory_order_relaxed);
                wantWin = true;
            }
            break;
        case 'R': {
            // Win the right to recache when the TTL left is below R's (not for an item just
            // created, nor when another client already won).
            const std::uint32_t e = it->expiresAt.load(std::memory_order_relaxed);
            if (!info.wonAlreadySent && !info.created && e != 0 &&
                e < ctx_.store.relativeExpiry(f.recacheTime))
                wantWin = true;
            break;
        }
        case 's':
            put(out, " s");
            putNum(out, it->valueLen);
            break;
        case 't':
            put(out, " t");
            putMetaTtl(out, it->expiresAt.load(std::memory_order_relaxed), now);
            break;
        case 'c':
            put(out, " c");
            putNum(out, it->cas.load(std::memory_order_relaxed));
            break;
        case 'f':
            put(out, " f");
            putNum(out, it->flags);
            break;
        case 'l':
            put(out, " l");
            putNum(out, info.lastAccessAgo);
            break;
        case 'h':
            put(out, info.hitBefore ? " h1" : " h0");
            break;
        case 'O':
            if (t.size() > kMaxOpaque) {
                out.resize(mark);
                return putError(out, "CLIENT_ERROR opaque token too long");
            }
            out.push_back(' ');
            put(out, t);
            break;
        case 'k':
            // The item's own key: base64 again when a binary key stored it (ITEM_KEY_BINARY).
            if (it->bits & Item::kBinaryKey)
                putMetaKey(out, base64Encode(it->key()), true);
            else
                putMetaKey(out, it->key(), false);
            break;
        default:
            break;
        }
    }
    // memcached's order: Z (someone else already won), X (stale), W (this caller won).
    // A stale item hands its token to the first client that sees it.
    if (info.stale && !info.wonAlreadySent)
        wantWin = true;
    const bool won = wantWin && ctx_.store.claimWin(*it);
    if (info.wonAlreadySent)
        put(out, " Z");
    if (info.stale)
        put(out, " X");
    if (won)
        put(out, " W");
    put(out, "\r\n");
    if (f.value) {
        put(out, it->value());
        put(out, "\r\n");
    }
    if (delayedBump && !f.noUpdate)
        ctx_.store.bump(*it);
}

void MemcacheSession::metaSet(std::string_view *tok, std::size_t n, std::string &out) {
    if (!metaCommon(tok, n, "CLIENT_ERROR options flags too long\r\n", out))
        return;
    std::int64_t vlen;
    if (n < 3 || !parseI32(tok[2], vlen) || vlen < 0 || vlen > INT32_MAX - 2) {
        // Nothing is swallowed: memcached cannot know how long the data block is.
        put(out, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    auto *p = new Pending;
    p->meta = true;
    // Keep the flag tokens alive for the answer, written after the data block has arrived.
    p->line.assign(tok[1]);
    for (std::size_t i = 3; i < n; ++i) {
        p->line.push_back(' ');
        p->line.append(tok[i]);
    }
    Tokens own;
    tokenize(p->line, own);
    own.insert(own.begin(), "ms");
    own.insert(own.begin() + 2, "0"); // tok[2]'s place: flags start at 3 as in the request
    std::string keyBuf;
    std::string_view key = own[1];
    MetaFlags &f = p->flags;
    MetaParse pr = preparseMeta(own.data(), own.size(), 3, f, keyBuf, key);
    const char *err =
        pr.failed ? (pr.error ? pr.error : "CLIENT_ERROR bad command line format") : nullptr;
    if (!err) { // memcached: an invalid mode is reported over a too long opaque

        switch (f.mode) {
        case 0:
        case 'S':
            p->mode = StoreMode::Set;
            break;
        case 'E':
            p->mode = StoreMode::Add;
            break;
        case 'A':
            p->mode = StoreMode::Append;
            break;
        case 'P':
            p->mode = StoreMode::Prepend;
            break;
        case 'R':
            p->mode = StoreMode::Replace;
            break;
        default:
            err = "CLIENT_ERROR invalid mode for ms M token";
        }
    }
    if (!err && opaqueTooLong(f))
        err = "CLIENT_ERROR opaque token too long";
    if (err) {
        // memcached swallows the data block after a bad meta-set line.
        putError(out, err);
        swallow_ = static_cast<std::size_t>(vlen) + 2;
        delete p;
        return;
    }
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats.cmdSet.fetch_add(1, std::memory_order_relaxed);
    p->item = ctx_.store.allocate(key, f.clientFlags, f.exptime, static_cast<std::uint32_t>(vlen));
    if (!p->item) {
        swallowReply_ = "SERVER_ERROR object too large for cache\r\n";
        swallow_ = static_cast<std::size_t>(vlen) + 2;
        if (p->mode == StoreMode::Set) // as a text set: the old value must not stay readable
            ctx_.store.remove(key);
        delete p;
        return;
    }
    // A CAS turns set and replace into compare-and-swap; append and prepend compare only when
    // the item exists; add ignores it. A CAS of 0 never matches.
    if (f.hasCas && (p->mode == StoreMode::Set || p->mode == StoreMode::Replace))
        p->cas = f.cas ? f.cas : ~0ull;
    else if (f.hasCas && p->mode != StoreMode::Add)
        p->cas = f.cas; // append/prepend: compared only when non-zero and the item exists
    if (f.keyBinary)
        p->item->bits |= Item::kBinaryKey; // not linked yet: no lock needed
    p->invalidate =
        f.setStale && f.hasCas && (p->mode == StoreMode::Set || p->mode == StoreMode::Replace);
    p->noreply = f.noReply;
    p->keyToken = std::string(own[1]);
    pending_ = p;
}

void MemcacheSession::metaDelete(std::string_view *tok, std::size_t n, std::string &out) {
    if (!metaCommon(tok, n, "CLIENT_ERROR options flags too long\r\n", out))
        return;
    MetaFlags f;
    std::string keyBuf;
    std::string_view key = tok[1];
    if (preparseMeta(tok, n, 2, f, keyBuf, key).failed)
        return putError(out, "CLIENT_ERROR invalid or duplicate flag");
    if (opaqueTooLong(f))
        return putError(out, "CLIENT_ERROR opaque token too long");
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t cas = f.hasCas ? (f.cas ? f.cas : ~0ull) : 0;
    DeleteStatus r = f.setStale ? ctx_.store.invalidate(key, cas, f.newTtl, f.exptime)
                                : ctx_.store.remove(key, cas);
    if (r == DeleteStatus::Deleted && f.noReply)
        return;
    put(out, r == DeleteStatus::Deleted ? "HD" : r == DeleteStatus::NotFound ? "NF" : "EX");
    putOpaqueAndKey(out, f, tok[1]);
    put(out, "\r\n");
}

void MemcacheSession::metaArith(std::string_view *tok, std::size_t n, std::string &out) {
    if (!metaCommon(tok, n, "CLIENT_ERROR options flags too long\r\n", out))
        return;
    MetaFlags f;
    std::string keyBuf;
    std::string_view key = tok[1];
    if (preparseMeta(tok, n, 2, f, keyBuf, key).failed)
        return putError(out, "CLIENT_ERROR invalid or duplicate flag");
    bool incr = true;
    switch (f.mode) {
    case 0:
    case 'I':
    case '+':
        break;
    case 'D':
    case '-':
        incr = false;
        break;
    default:
        return putError(out, "CLIENT_ERROR invalid mode for ma M token");
    }
    ctx_.stats.cmdMeta.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t cas = f.hasCas ? f.cas : 0; // do_add_delta compares only a non-zero CAS
    // memcached creates a counter with no expiry and then applies T, and N for a counter it
    // created, in the order they were given: the last one is the TTL it keeps. (T on a counter
    // that outgrows its item does not reach the stored one: Store::arithmetic.)
    bool setTtl = false, setTtlIfCreated = false;
    std::int64_t ttl = 0, ttlIfCreated = 0;
    for (std::size_t i = 0; i < f.count; ++i) {
        char c = f.order[i][0];
        if (c == 'T') {
            setTtl = setTtlIfCreated = true;
            ttl = ttlIfCreated = f.exptime;
        } else if (c == 'N' && f.vivify) {
            setTtlIfCreated = true;
            ttlIfCreated = f.vivifyExptime;
        }
    }
    // A created counter takes the last of T and N as its TTL (createExptime); an existing one
    // only T.
    std::uint64_t result = 0, casOut = 0;
    Store::ArithInfo ai;
    ArithStatus r =
        ctx_.store.arithmetic(key, incr, f.delta, &result, cas, &casOut, f.vivify, f.initial,
                              setTtlIfCreated ? ttlIfCreated : 0, setTtl, ttl, &ai);
    const bool existed = !ai.created;
    switch (r) {
    case ArithStatus::Ok:
        break;
    case ArithStatus::NonNumeric:
        return putError(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
    case ArithStatus::NotFound:
    case ArithStatus::Exists:
    case ArithStatus::NotStored:
        // memcached checks the opaque's length while writing the answer, after the operation.
        if (opaqueTooLong(f))
            return putError(out, "CLIENT_ERROR opaque token too long");
        put(out, r == ArithStatus::NotFound ? "NF" : r == ArithStatus::Exists ? "EX" : "NS");
        putOpaqueAndKey(out, f, tok[1]);
        put(out, "\r\n");
        return;
    }
    if (opaqueTooLong(f))
        return putError(out, "CLIENT_ERROR opaque token too long");
    // q hides the answer of a counter that existed, not of one N created.
    if (f.noReply && existed)
        return;
    char num[24];
    auto nr = std::to_chars(num, num + sizeof num, result);
    std::string_view numStr(num, static_cast<std::size_t>(nr.ptr - num));
    if (f.value) {
        put(out, "VA ");
        putNum(out, numStr.size());
    } else {
        put(out, "HD");
    }
    const std::uint32_t now = ctx_.store.relNow();
    // T (and N, for a counter it created) change the TTL where they stand among the flags.
    std::uint32_t expires = existed ? ai.expiresBefore : 0;
    for (std::size_t i = 0; i < f.count; ++i) {
        switch (f.order[i][0]) {
        case 'T':
            expires = ctx_.store.relativeExpiry(f.exptime);
            break;
        case 'N':
            if (!existed)
                expires = ctx_.store.relativeExpiry(f.vivifyExptime);
            break;
        case 't':
            put(out, " t");
            putMetaTtl(out, expires, now);
            break;
        case 'c':
            put(out, " c");
            putNum(out, casOut);
            break;
        case 'O':
            out.push_back(' ');
            put(out, f.order[i]);
            break;
        case 'k':
            putMetaKey(out, tok[1], f.keyBinary);
            break;
        default:
            break;
        }
    }
    put(out, "\r\n");
    if (f.value) {
        put(out, numStr);
        put(out, "\r\n");
    }
}

// me: memcached's debug line for an item — exp (its expiry minus now: negative while alive, -1
// for never), la, cas, fetch, the slab class and total size memcached would give it.
void MemcacheSession::metaDebug(std::string_view *tok, std::size_t n, std::string &out) {
    if (n < 2 || tok[1].size() > kMaxKeyLength) {
        put(out, "CLIENT_ERROR bad command line format\r\n");
        return;
    }
    std::string keyBuf;
    std::string_view key = tok[1];
    if (n >= 3 && tok[2] == "b") {
        if (!base64Decode(tok[1], keyBuf)) {
            put(out, "CLIENT_ERROR bad command line format\r\n");
            return;
        }
        key = keyBuf;
    }
    LookupInfo info;
    ItemRef it = ctx_.store.lookup(key, Store::GetOptions{false, false}, &info);
    if (!it) {
        put(out, "EN\r\n");
        return;
    }
    const std::uint32_t now = ctx_.store.relNow();
    const std::uint32_t e = it->expiresAt.load(std::memory_order_relaxed);
    put(out, "ME ");
    put(out, tok[1]);
    put(out, " exp=");
    putSigned(out, e == 0 ? -1 : static_cast<std::int32_t>(now - e));
    put(out, " la=");
    putNum(out, info.lastAccessAgo);
    put(out, " cas=");
    putNum(out, it->cas.load(std::memory_order_relaxed));
    put(out, info.hitBefore ? " fetch=yes" : " fetch=no");
    put(out, " cls=");
    putNum(out, slabClassOf(it->keyLen, it->valueLen, it->flags));
    put(out, " size=");
    putNum(out, memcachedItemSize(it->keyLen, it->valueLen, it->flags));
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
        stat("auth_cmds", ld(p.authCmds));
        stat("auth_errors", ld(p.authErrors));
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
