// The config loader's insides, shared by the files of config/ and by no one else: a Loader walks
// a parsed TOML document against the schema and collects every error as "FILE:LINE:COL: key:
// message". load.cpp holds the walk (one function per section, then the checks across fields);
// config.cpp holds the readers that check and convert one value each (durations, sizes,
// addresses, lists, upstream URLs).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <utility>
#include <vector>

#include "config/config.h"

namespace fc::config {

// memcached.auth_file's users, read when the config is loaded (config.cpp says what is refused).
Result<AuthUsers> readAuthFile(const std::string &path);
// A small regular file read whole (config/config.cpp says what is refused).
Result<std::string> readSmallFile(const std::string &path, std::size_t maxBytes, bool secret);

class Loader {
public:
    explicit Loader(std::string file) : file_(std::move(file)) {}

    // The whole document: every section, then the checks across fields (load.cpp).
    LoadResult load(const toml::table &root);

    void error(const toml::source_region &where, std::string_view key, const std::string &msg);

    // error() for helpers that report success as a bool.
    bool fail(const toml::source_region &where, std::string_view key, const std::string &msg) {
        error(where, key, msg);
        return false;
    }

    using Handler = std::function<void(const toml::node &, const std::string &key)>;
    using Section = std::map<std::string, Handler, std::less<>>;

    // Runs each key of [name] through its handler; a key the section does not know is an error.
    void section(const toml::table &root, std::string_view name, const Section &fields);

    // --- readers: each checks one value and stores it in `out` (config.cpp) ------------------
    Handler duration(Millis &out, Millis min = Millis(0));
    Handler size(std::uint64_t &out, std::uint64_t min = 0);
    Handler string(std::string &out);
    Handler boolean(bool &out);
    Handler address(std::optional<SocketAddress> &out);
    Handler addressList(std::vector<SocketAddress> &out);
    // Addresses and CIDR blocks ("10.0.0.0/8", "::1"): the text and the parsed blocks.
    Handler addressBlocks(std::vector<std::string> &text, std::vector<AddressBlock> &out);
    // A list of non-empty strings, none containing a character of `forbidden`; the two messages
    // say what was expected of the list and of an item.
    Handler stringList(std::vector<std::string> &out,
                       const char *listError = "expected a list of strings",
                       const char *itemError = "expected a list of non-empty strings",
                       std::string_view forbidden = {});
    // A list of name patterns ('*' globs): printable, no spaces, '=', ';', ',' or '&'. [] allowed.
    Handler patternList(std::vector<std::string> &out);
    // cache.compress: the codings frontcache makes, each once.
    Handler codingList(std::vector<std::string> &out);
    // cache.compress_types: media types (type/subtype), kept in lower case.
    Handler mediaTypeList(std::vector<std::string> &out);
    // cache.group_fields: names of the fields cache groups are read from, each once, among
    // Cache-Groups, Surrogate-Key, Cache-Tag and xkey (config/groups.cpp).
    Handler groupFieldList(std::vector<std::string> &out);

    template <typename Int> Handler integer(Int &out, std::int64_t min, std::int64_t max) {
        return [this, &out, min, max](const toml::node &n, const std::string &key) {
            auto i = n.as_integer();
            if (!i)
                return error(n.source(), key, "expected an integer");
            if (i->get() < min || i->get() > max)
                return error(n.source(), key,
                             "must be between " + std::to_string(min) + " and " +
                                 std::to_string(max) + ", got " + std::to_string(i->get()));
            out = static_cast<Int>(i->get());
        };
    }

    template <typename E> Handler choice(E &out, std::vector<std::pair<std::string, E>> options) {
        return [this, &out, options](const toml::node &n, const std::string &key) {
            std::string expected;
            for (auto &[name, value] : options)
                expected += (expected.empty() ? "\"" : ", \"") + name + "\"";
            auto s = n.as_string();
            if (!s)
                return error(n.source(), key, "expected one of " + expected);
            for (auto &[name, value] : options)
                if (s->get() == name) {
                    out = value;
                    return;
                }
            error(n.source(), key, "\"" + s->get() + "\" is not one of " + expected);
        };
    }

    // One server's URL: "http://host[:port]" or "unix:/path". Returns false after an error.
    bool upstreamUrl(const toml::node &n, const std::string &key, UpstreamServer &up);
    // upstream.servers: a non-empty list of distinct servers, each a URL or a table
    // { url = "...", weight = N, backup = true }.
    void upstreamServers(const toml::node &n, const std::string &key, UpstreamConfig &up);

private:
    // One per section, in the order their errors are reported (load.cpp).
    void loadServer(const toml::table &root, ServerConfig &c);
    void loadUpstream(const toml::table &root, UpstreamConfig &c);
    void loadCache(const toml::table &root, CacheConfig &c);
    void loadMemcached(const toml::table &root, MemcachedConfig &c);
    void loadAdmin(const toml::table &root, AdminConfig &c);
    void loadLog(const toml::table &root, LogConfig &c);
    void loadLimits(const toml::table &root, LimitsConfig &c); // limits.cpp
    // rules.cpp: [[rules]], and [[upstream.groups]] (whose names the rules' `upstream` names).
    void loadRules(const toml::table &root, std::vector<Rule> &out,
                   const std::vector<UpstreamGroup> &groups);
    bool loadRule(const toml::table &t, const std::string &key, Rule &r,
                  const std::vector<UpstreamGroup> &groups);
    void upstreamGroups(const toml::node &n, const std::string &key,
                        std::vector<UpstreamServer> &servers, std::vector<UpstreamGroup> &groups);
    void ruleMatchKey(std::string_view k, const toml::node &v, const std::string &sub, Rule &r);
    void ruleActionKey(std::string_view k, const toml::node &v, const std::string &sub, Rule &r);
    void ruleStatusTtl(const toml::node &v, const std::string &sub, Rule &r);
    enum class FieldUse { Match, Request, Response };
    Handler fieldTable(std::vector<RuleField> &out, FieldUse use); // { "Name" = "value" }
    // A request rate: a number per second, or "N/s", "N/m", "N/h".
    Handler rate(double &out);
    // What no one key can check alone: limits that must not exceed another key, either-or keys.
    void checkAcrossFields(const toml::table &root, const Config &c);

    std::string file_;
    std::vector<std::string> errors_;
};

} // namespace fc::config
