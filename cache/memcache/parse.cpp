#include <openssl/evp.h>

#include <climits>
#include <cstring>

#include "cache/memcache/command.h"
#include "cache/memcache/line.h"
#include "cache/store/number.h"
#include "cache/store/watch.h"

namespace fc::cache::memcache {

namespace {

using Tokens = std::span<const std::string_view>;

constexpr std::string_view kError = "ERROR";
constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format";
constexpr std::string_view kBadExptime = "CLIENT_ERROR invalid exptime argument";
constexpr std::size_t kMaxMetaTokens = 20; // MFLAG_MAX_OPT_LENGTH, counting memcached's tokens
constexpr std::size_t kMaxOpaque = 32;     // MFLAG_MAX_OPAQUE_LENGTH

Invalid refuse(std::string_view reply) {
    return Invalid{reply, 0};
}
// memcached's out_string: under noreply, its errors are not answered either.
Invalid refuse(std::string_view reply, bool noreply) {
    return Invalid{noreply ? std::string_view() : reply, 0};
}

// The last token is "noreply" (memcached's set_noreply_maybe: whatever the token count).
bool endsWithNoreply(Tokens tok) {
    return tok.back() == "noreply";
}

// A data block's length: safe_strtol, then the bounds memcached checks before reading it.
bool parseLength(std::string_view t, std::uint32_t &length) {
    std::int64_t v = 0;
    if (!safeStrtol(t, v) || v < 0 || v > INT32_MAX - 2)
        return false;
    length = static_cast<std::uint32_t>(v);
    return true;
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

// --- text commands ----------------------------------------------------------------------------

CommandArgs parseRetrieval(Tokens tok, bool withCas, bool touch) {
    if (tok.size() < 2)
        return refuse(kError);
    Retrieval r{tok.subspan(1), withCas, touch, 0};
    if (touch) { // "gat 10" with no key is an empty answer, as in memcached
        if (!safeStrtol(tok[1], r.exptime))
            return refuse(kBadExptime);
        r.keys = tok.subspan(2);
    }
    return r;
}

CommandArgs parseStorage(Tokens tok, StoreMode mode, bool isCas) {
    const std::size_t n = tok.size(), base = isCas ? 6 : 5;
    if (n != base && n != base + 1)
        return refuse(kError);
    Storage s;
    s.mode = mode;
    s.isCas = isCas;
    s.noreply = endsWithNoreply(tok);
    s.key = tok[1];
    if (s.key.size() > kMaxKeyLength || !safeStrtoul(tok[2], s.flags) ||
        !safeStrtol(tok[3], s.exptime) || !parseLength(tok[4], s.length) ||
        (isCas && !safeStrtoull(tok[5], s.cas)))
        // memcached does not swallow the data block here: it is read as the next command.
        return refuse(kBadFormat, s.noreply);
    return s;
}

CommandArgs parseDelete(Tokens tok) {
    const std::size_t n = tok.size();
    if (n < 2 || n > 4)
        return refuse(kError);
    // memcached 1.6 still accepts the old "delete <key> 0" (a hold time of zero), nothing else.
    const bool noreply = n > 2 && endsWithNoreply(tok);
    const bool valid =
        n == 2 || (n == 3 && (tok[2] == "0" || noreply)) || (n == 4 && tok[2] == "0" && noreply);
    if (!valid)
        return refuse("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
                      noreply);
    if (tok[1].size() > kMaxKeyLength)
        return refuse(kBadFormat, noreply);
    return Delete{tok[1], noreply};
}

CommandArgs parseArithmetic(Tokens tok, bool incr) {
    if (tok.size() != 3 && tok.size() != 4)
        return refuse(kError);
    Arithmetic a{tok[1], incr, endsWithNoreply(tok), 0};
    if (a.key.size() > kMaxKeyLength)
        return refuse(kBadFormat, a.noreply);
    if (!safeStrtoull(tok[2], a.delta))
        return refuse("CLIENT_ERROR invalid numeric delta argument", a.noreply);
    return a;
}

CommandArgs parseTouch(Tokens tok) {
    if (tok.size() != 3 && tok.size() != 4)
        return refuse(kError);
    Touch t{tok[1], endsWithNoreply(tok), 0};
    if (t.key.size() > kMaxKeyLength)
        return refuse(kBadFormat, t.noreply);
    if (!safeStrtol(tok[2], t.exptime))
        return refuse(kBadExptime, t.noreply);
    return t;
}

CommandArgs parseFlushAll(Tokens tok) {
    if (tok.size() > 3)
        return refuse(kError);
    FlushAll f{0, endsWithNoreply(tok)};
    // One argument besides noreply is the delay; with two (no noreply) memcached reads none.
    if (tok.size() - 1 - (f.noreply ? 1 : 0) == 1 && !safeStrtol(tok[1], f.delay))
        return refuse(kBadExptime, f.noreply);
    return f;
}

CommandArgs parseVerbosity(Tokens tok) {
    if (tok.size() < 2 || tok.size() > 3)
        return refuse(kError);
    Verbosity v{0, endsWithNoreply(tok)};
    if (tok.size() == 2 && v.noreply)
        return refuse({}); // "verbosity noreply": nothing to set, nothing to say
    if (!safeStrtoull(tok[1], v.level))
        return refuse(kBadFormat); // memcached answers this one even under noreply
    return v;
}

CommandArgs parseCacheMemlimit(Tokens tok) {
    CacheMemlimit m{0, endsWithNoreply(tok)};
    if (tok.size() < 2 || !safeStrtoull(tok[1], m.megabytes) || m.megabytes == 0)
        return refuse(kBadFormat);
    return m;
}

CommandArgs parseWatch(Tokens tok) {
    // memcached 1.6: the connection becomes a log stream (cache/store/watch.h).
    Watch w{parseWatchArgs(tok.data() + 1, tok.size() - 1)};
    if (!w.kinds)
        return refuse(kError);
    return w;
}

// --- meta commands ----------------------------------------------------------------------------
//
// Each follows memcached 1.6.18's order of checks (proto_text.c), so every malformed line gets
// the same answer: fewer than two tokens is ERROR; a key token over 250 bytes, then more than
// 17 flags, then the flags (preparseMeta); ms reads its data length before the flags so a bad
// line's data block can be swallowed; md and ma answer any flag error with one message.

// The checks before the flags; empty when they pass.
std::string_view metaShape(Tokens tok, std::string_view tooLong) {
    if (tok.size() < 2)
        return kError;
    if (tok[1].size() > kMaxKeyLength)
        return kBadFormat;
    if (tok.size() + 1 > kMaxMetaTokens) // memcached counts a final empty token
        return tooLong;
    return {};
}

// A flag's value, for the flags that carry one. False when it is bad, with `error` set to
// memcached's message for it (F has none: the error stays the one set before, if any).
bool metaValue(char flag, std::string_view v, MetaFlags &f, std::string_view &error) {
    bool ok = true;
    switch (flag) {
    case 'N':
    case 'T':
    case 'R': {
        std::int64_t x = 0;
        if (!(ok = safeStrtol(v, x))) {
            error = "CLIENT_ERROR bad token in command line format";
        } else if (flag == 'N') {
            f.vivify = true;
            f.vivifyExptime = x;
        } else if (flag == 'T') {
            f.newTtl = true;
            f.exptime = x;
        } else {
            f.recache = true;
            f.recacheTime = x;
        }
        break;
    }
    case 'F':
        ok = safeStrtoul(v, f.clientFlags);
        break;
    case 'C':
        if (!(ok = f.hasCas = safeStrtoull(v, f.cas)))
            error = "CLIENT_ERROR bad token in command line format";
        break;
    case 'J':
        if (!(ok = safeStrtoull(v, f.initial)))
            error = "CLIENT_ERROR invalid numeric initial value";
        break;
    case 'D':
        if (!(ok = safeStrtoull(v, f.delta)))
            error = "CLIENT_ERROR invalid numeric delta value";
        break;
    case 'M':
        if (!(ok = v.size() == 1))
            error = "CLIENT_ERROR incorrect length for M token";
        else
            f.mode = v[0];
        break;
    default:
        break;
    }
    return ok;
}

struct MetaParse {
    bool failed = false;
    std::string_view error; // empty: the command's own default message
};

// Parses tok[from..] into m.flags; with b the key token is base64-decoded into `keyBuffer` and
// m.key points at it.
MetaParse preparseMeta(Tokens tok, std::size_t from, Meta &m, std::string &keyBuffer) {
    MetaParse r;
    MetaFlags &f = m.flags;
    bool seenChar[128] = {};
    for (std::size_t i = from; i < tok.size(); ++i) {
        std::string_view t = tok[i];
        const unsigned char o = static_cast<unsigned char>(t[0]);
        if (o >= 127 || seenChar[o])
            return {true, "CLIENT_ERROR duplicate flag"};
        seenChar[o] = true;
        switch (o) {
        case 'b':
            if (base64Decode(tok[1], keyBuffer))
                m.key = keyBuffer;
            else
                r = {true, "CLIENT_ERROR error decoding key"};
            f.keyBinary = true;
            break;
        case 'N':
        case 'T':
        case 'R':
        case 'F':
        case 'C':
        case 'J':
        case 'D':
        case 'M':
            if (!metaValue(static_cast<char>(o), t.substr(1), f, r.error))
                r.failed = true;
            break;
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

constexpr std::string_view kFlagsTooLong = "CLIENT_ERROR options flags too long";
constexpr std::string_view kOpaqueTooLong = "CLIENT_ERROR opaque token too long";

// mg, md and ma: the checks before the flags, then the flags. mg answers a flag error with the
// flag's own message; md and ma with one for all (`flagError`). False with `refused` set.
template <typename M>
bool readMeta(Tokens tok, std::string_view tooLong, std::string_view flagError,
              std::string &keyBuffer, M &m, Invalid &refused) {
    if (std::string_view e = metaShape(tok, tooLong); !e.empty()) {
        refused = refuse(e);
        return false;
    }
    m.keyToken = m.key = tok[1];
    if (MetaParse pr = preparseMeta(tok, 2, m, keyBuffer); pr.failed) {
        refused = refuse(!flagError.empty()  ? flagError
                         : !pr.error.empty() ? pr.error
                                             : kBadFormat);
        return false;
    }
    return true;
}

CommandArgs parseMetaGet(Tokens tok, std::string &keyBuffer) {
    MetaGet m;
    Invalid refused;
    if (!readMeta(tok, "CLIENT_ERROR options flags are too long", {}, keyBuffer, m, refused))
        return refused;
    return m; // the opaque is checked as the answer is written
}

// The store mode an ms M token asks for; false for one memcached does not know.
bool metaSetMode(char m, StoreMode &mode) {
    switch (m) {
    case 0:
    case 'S':
        mode = StoreMode::Set;
        return true;
    case 'E':
        mode = StoreMode::Add;
        return true;
    case 'A':
        mode = StoreMode::Append;
        return true;
    case 'P':
        mode = StoreMode::Prepend;
        return true;
    case 'R':
        mode = StoreMode::Replace;
        return true;
    default:
        return false;
    }
}

CommandArgs parseMetaSet(Tokens tok, std::string &keyBuffer) {
    if (std::string_view e = metaShape(tok, kFlagsTooLong); !e.empty())
        return refuse(e);
    MetaSet m;
    m.keyToken = m.key = tok[1];
    if (tok.size() < 3 || !parseLength(tok[2], m.length))
        return refuse(kBadFormat); // nothing swallowed: the data block's length is unknown
    MetaParse pr = preparseMeta(tok, 3, m, keyBuffer);
    std::string_view error = pr.failed ? (pr.error.empty() ? kBadFormat : pr.error) : "";
    // memcached reports an invalid mode over a too long opaque.
    if (error.empty() && !metaSetMode(m.flags.mode, m.mode))
        error = "CLIENT_ERROR invalid mode for ms M token";
    if (error.empty() && m.flags.opaqueTooLong())
        error = kOpaqueTooLong;
    if (!error.empty()) // memcached reads past the data block of a refused meta set
        return Invalid{error, static_cast<std::size_t>(m.length) + 2};
    return m;
}

CommandArgs parseMetaDelete(Tokens tok, std::string &keyBuffer) {
    MetaDelete m;
    Invalid refused;
    if (!readMeta(tok, kFlagsTooLong, "CLIENT_ERROR invalid or duplicate flag", keyBuffer, m,
                  refused))
        return refused;
    if (m.flags.opaqueTooLong())
        return refuse(kOpaqueTooLong);
    return m;
}

CommandArgs parseMetaArithmetic(Tokens tok, std::string &keyBuffer) {
    MetaArithmetic m;
    Invalid refused;
    if (!readMeta(tok, kFlagsTooLong, "CLIENT_ERROR invalid or duplicate flag", keyBuffer, m,
                  refused))
        return refused;
    switch (m.flags.mode) {
    case 0:
    case 'I':
    case '+':
        m.incr = true;
        break;
    case 'D':
    case '-':
        m.incr = false;
        break;
    default:
        return refuse("CLIENT_ERROR invalid mode for ma M token");
    }
    return m; // the opaque is checked as the answer is written, after the operation
}

CommandArgs parseMetaDebug(Tokens tok, std::string &keyBuffer) {
    if (tok.size() < 2 || tok[1].size() > kMaxKeyLength)
        return refuse(kBadFormat);
    MetaDebug m{tok[1]};
    if (tok.size() >= 3 && tok[2] == "b") {
        if (!base64Decode(tok[1], keyBuffer))
            return refuse(kBadFormat);
        m.key = keyBuffer;
    }
    return m;
}

CommandArgs parseMeta(Tokens tok, std::string &keyBuffer) {
    switch (tok[0][1]) {
    case 'g':
        return parseMetaGet(tok, keyBuffer);
    case 's':
        return parseMetaSet(tok, keyBuffer);
    case 'd':
        return parseMetaDelete(tok, keyBuffer);
    case 'a':
        return parseMetaArithmetic(tok, keyBuffer);
    case 'n':
        return MetaNoop{};
    case 'e':
        return parseMetaDebug(tok, keyBuffer);
    default:
        return refuse(kError);
    }
}

CommandArgs parseText(Tokens tok) {
    const std::string_view c = tok[0];
    if (c == "get" || c == "gets")
        return parseRetrieval(tok, c == "gets", false);
    if (c == "gat" || c == "gats")
        return parseRetrieval(tok, c == "gats", true);
    if (c == "set" || c == "cas")
        return parseStorage(tok, StoreMode::Set, c == "cas");
    if (c == "add")
        return parseStorage(tok, StoreMode::Add, false);
    if (c == "replace")
        return parseStorage(tok, StoreMode::Replace, false);
    if (c == "append")
        return parseStorage(tok, StoreMode::Append, false);
    if (c == "prepend")
        return parseStorage(tok, StoreMode::Prepend, false);
    if (c == "delete")
        return parseDelete(tok);
    if (c == "incr" || c == "decr")
        return parseArithmetic(tok, c == "incr");
    if (c == "touch")
        return parseTouch(tok);
    if (c == "flush_all")
        return parseFlushAll(tok);
    if (c == "version")
        return Version{};
    if (c == "verbosity")
        return parseVerbosity(tok);
    if (c == "stats")
        return Stats{tok.size() > 1 ? tok[1] : std::string_view()};
    if (c == "cache_memlimit")
        return parseCacheMemlimit(tok);
    if (c == "quit")
        return Quit{};
    if (c == "watch")
        return parseWatch(tok);
    return refuse(kError);
}

} // namespace

bool MetaFlags::opaqueTooLong() const {
    for (std::size_t i = 0; i < count; ++i)
        if (order[i][0] == 'O' && order[i].size() > kMaxOpaque)
            return true;
    return false;
}

void tokenize(std::string_view line, std::vector<std::string_view> &tokens) {
    tokens.clear();
    if (const void *nul = std::memchr(line.data(), '\0', line.size()))
        line =
            line.substr(0, static_cast<std::size_t>(static_cast<const char *>(nul) - line.data()));
    std::size_t i = 0;
    for (std::string_view t = nextToken(line, i); !t.empty(); t = nextToken(line, i))
        tokens.push_back(t);
}

void parseCommand(std::string_view line, Command &cmd) {
    tokenize(line, cmd.tokens);
    const Tokens tok(cmd.tokens);
    if (tok.empty())
        cmd.args = refuse(kError);
    else if (tok[0].size() == 2 && tok[0][0] == 'm') // the meta commands: two letters, m first
        cmd.args = parseMeta(tok, cmd.keyBuffer);
    else
        cmd.args = parseText(tok);
}

} // namespace fc::cache::memcache
