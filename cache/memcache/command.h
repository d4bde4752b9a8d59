// A command line of memcached's text and meta protocol as a typed command: parseCommand turns
// the line into one alternative per command family, with its numbers read and its flags parsed,
// and MemcacheSession::execute switches on the family (memcached's own shape: proto_parser.c's
// process_request, then a process_*_cmd per command).
//
// What the parser decides alone is answered before the store is touched: a wrong token count, a
// key over 250 bytes, a number memcached's safe_strto* refuses, an unknown or repeated meta flag
// (Invalid, with memcached's wording, hidden by noreply where memcached hides it). What depends
// on the store or on the order of the work is left to execution: a long key in the middle of a
// multi-key get, mg's and ma's opaque checked as the answer is written, a value too large.
//
// Lifetime: a Command's views point into the line it was parsed from and into its own token
// and key buffers; they are valid until the next parse into the same Command or until the
// line's bytes change. Pure; no state beyond the Command.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "cache/store/store.h"

namespace fc::cache::memcache {

// Answered by the parser: memcached's words for what is wrong, nothing when noreply hides them.
struct Invalid {
    std::string_view reply;  // without "\r\n"; empty: nothing is answered
    std::size_t swallow = 0; // bytes of a data block to read past unanswered (a refused ms)
};

// get, gets, gat, gats.
struct Retrieval {
    std::span<const std::string_view> keys; // may be empty for gat
    bool withCas = false;
    bool touch = false;
    std::int64_t exptime = 0; // gat's new TTL
};

// set, add, replace, append, prepend, cas: a data block of `length` bytes follows.
struct Storage {
    StoreMode mode = StoreMode::Set;
    bool isCas = false;
    bool noreply = false;
    std::string_view key;
    std::uint32_t flags = 0;
    std::int64_t exptime = 0;
    std::uint32_t length = 0;
    std::uint64_t cas = 0; // cas only
};

struct Delete {
    std::string_view key;
    bool noreply = false;
};

// incr, decr.
struct Arithmetic {
    std::string_view key;
    bool incr = true;
    bool noreply = false;
    std::uint64_t delta = 0;
};

struct Touch {
    std::string_view key;
    bool noreply = false;
    std::int64_t exptime = 0;
};

// The flags of one meta command, read the way memcached 1.6's _meta_flag_preparse reads them:
// every known flag is accepted by every meta command (those that do not apply are ignored), a
// repeated flag or one memcached does not know ends parsing at once, and a bad value marks an
// error but parsing goes on (the last such error is the one reported).
struct MetaFlags {
    std::string_view order[24]; // the flag tokens, in request order (answers echo in order)
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
    // An O token longer than memcached's MFLAG_MAX_OPAQUE_LENGTH.
    bool opaqueTooLong() const;
};

// What every meta command with a key carries.
struct Meta {
    std::string_view keyToken; // as the client wrote it (base64 with b): what k echoes
    std::string_view key;      // the key itself (decoded with b)
    MetaFlags flags;
};
struct MetaGet : Meta {};
struct MetaSet : Meta {
    StoreMode mode = StoreMode::Set; // from M
    std::uint32_t length = 0;        // of the data block that follows
};
struct MetaDelete : Meta {};
struct MetaArithmetic : Meta {
    bool incr = true; // from M
};
struct MetaNoop {};
struct MetaDebug {
    std::string_view key; // decoded with b
};

struct FlushAll {
    std::int64_t delay = 0;
    bool noreply = false;
};
struct Version {};
struct Verbosity {
    std::uint64_t level = 0;
    bool noreply = false;
};
struct Stats {
    std::string_view group; // "", "settings", "items", "slabs", "reset", or unknown
};
struct CacheMemlimit {
    std::uint64_t megabytes = 0;
    bool noreply = false;
};
struct Quit {};
struct Watch {
    std::uint32_t kinds = 0; // cache::WatchKind bits
};

// One alternative per family, in the order of CommandKind.
using CommandArgs = std::variant<Invalid, Retrieval, Storage, Delete, Arithmetic, Touch, MetaGet,
                                 MetaSet, MetaDelete, MetaArithmetic, MetaNoop, MetaDebug, FlushAll,
                                 Version, Verbosity, Stats, CacheMemlimit, Quit, Watch>;
enum class CommandKind : std::uint8_t {
    Invalid,
    Retrieval,
    Storage,
    Delete,
    Arithmetic,
    Touch,
    MetaGet,
    MetaSet,
    MetaDelete,
    MetaArithmetic,
    MetaNoop,
    MetaDebug,
    FlushAll,
    Version,
    Verbosity,
    Stats,
    CacheMemlimit,
    Quit,
    Watch,
};
static_assert(std::variant_size_v<CommandArgs> == static_cast<std::size_t>(CommandKind::Watch) + 1);
// Each kind is the index of the alternative of the same name.
template <CommandKind K, typename T>
constexpr bool kKindIs =
    std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(K), CommandArgs>, T>;
static_assert(kKindIs<CommandKind::Invalid, Invalid> &&
              kKindIs<CommandKind::Retrieval, Retrieval> &&
              kKindIs<CommandKind::Storage, Storage> && kKindIs<CommandKind::Delete, Delete> &&
              kKindIs<CommandKind::Arithmetic, Arithmetic> && kKindIs<CommandKind::Touch, Touch> &&
              kKindIs<CommandKind::MetaGet, MetaGet> && kKindIs<CommandKind::MetaSet, MetaSet> &&
              kKindIs<CommandKind::MetaDelete, MetaDelete> &&
              kKindIs<CommandKind::MetaArithmetic, MetaArithmetic> &&
              kKindIs<CommandKind::MetaNoop, MetaNoop> &&
              kKindIs<CommandKind::MetaDebug, MetaDebug> &&
              kKindIs<CommandKind::FlushAll, FlushAll> && kKindIs<CommandKind::Version, Version> &&
              kKindIs<CommandKind::Verbosity, Verbosity> && kKindIs<CommandKind::Stats, Stats> &&
              kKindIs<CommandKind::CacheMemlimit, CacheMemlimit> &&
              kKindIs<CommandKind::Quit, Quit> && kKindIs<CommandKind::Watch, Watch>);

struct Command {
    CommandArgs args;
    // The family, from the alternative held: a switch on it may take that alternative with
    // `as<T>()` knowing it is there.
    CommandKind kind() const { return static_cast<CommandKind>(args.index()); }
    template <typename T> const T &as() const { return *std::get_if<T>(&args); }

    std::vector<std::string_view> tokens; // the line's tokens (reused from parse to parse)
    std::string keyBuffer;                // a base64 key (meta b), decoded
};

// Parses one command line, its "\r\n" removed, into `cmd`. Never fails: what memcached would
// refuse becomes Invalid. Never throws.
void parseCommand(std::string_view line, Command &cmd);

// The tokens of a line, as memcached's tokenizer reads it: the line ends at its first '\0'
// (memcached tokenizes with strlen), tokens are split on ' ' only.
void tokenize(std::string_view line, std::vector<std::string_view> &tokens);

} // namespace fc::cache::memcache
