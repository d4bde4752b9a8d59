#include "config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <toml++/toml.h>

namespace fc::config {

std::string UpstreamConfig::describe() const {
    std::string out;
    for (const auto &s : servers) {
        out += (out.empty() ? "" : ", ") + s.url;
        if (s.weight != 1 || s.backup)
            out += " (" + (s.weight != 1 ? "weight " + std::to_string(s.weight) : "") +
                   (s.weight != 1 && s.backup ? ", " : "") + (s.backup ? "backup" : "") + ")";
    }
    return out;
}

std::string SocketAddress::text() const {
    return ipv6 ? "[" + host + "]:" + std::to_string(port) : host + ":" + std::to_string(port);
}

Result<SocketAddress> parseSocketAddress(std::string_view text) {
    SocketAddress a;
    std::string_view hostPart, portPart;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return Error{"expected \"[v6-address]:port\""};
        hostPart = text.substr(1, close - 1);
        portPart = text.substr(close + 2);
        a.ipv6 = true;
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return Error{"expected \"address:port\", e.g. \"127.0.0.1:8080\""};
        hostPart = text.substr(0, colon);
        portPart = text.substr(colon + 1);
        if (hostPart.find(':') != std::string_view::npos)
            return Error{"an IPv6 address must be in brackets: \"[::1]:8080\""};
    }
    a.host = std::string(hostPart);
    unsigned char buf[16];
    if (inet_pton(a.ipv6 ? AF_INET6 : AF_INET, a.host.c_str(), buf) != 1)
        return Error{"\"" + a.host + "\" is not a numeric IP address"};
    if (portPart.empty() || portPart.size() > 5)
        return Error{"port must be a number from 0 to 65535"};
    unsigned port = 0;
    for (char c : portPart) {
        if (c < '0' || c > '9')
            return Error{"port must be a number from 0 to 65535"};
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port > 65535)
        return Error{"port " + std::to_string(port) + " out of range (0-65535)"};
    a.port = static_cast<std::uint16_t>(port);
    return a;
}

std::vector<std::string> exposureWarnings(const Config &c) {
    static const std::vector<AddressBlock> kLoopback = {*AddressBlock::parse("127.0.0.0/8"),
                                                        *AddressBlock::parse("::1")};
    std::vector<std::string> out;
    const MemcachedConfig &mc = c.memcached;
    if (mc.listen && !mc.authUsers && !inAnyBlock(kLoopback, mc.listen->host))
        out.push_back("memcached.listen " + mc.listen->text() +
                      " is not on loopback and memcached.auth_file is not set: anyone who can "
                      "reach it can read every cached page, store pages that HTTP clients are "
                      "then served as hits, and flush the cache; bind it to 127.0.0.1 or ::1, "
                      "set memcached.auth_file, or firewall it");
    if (c.admin.listen && c.admin.token.empty() && !inAnyBlock(kLoopback, c.admin.listen->host))
        out.push_back("admin.listen " + c.admin.listen->text() +
                      " is not on loopback and admin.token is empty: anyone who reaches it may "
                      "purge and flush");
    return out;
}

namespace {

// memcached.auth_file: opened without blocking (a FIFO would wait for a writer), refused unless
// a regular file that other users can neither read nor write. A password file anyone on the
// host can read hands the port to every local user, and one they can write lets them add
// themselves (ssh refuses such key files for the same reasons); the group may read it, so
// root:frontcache 0640 works.
Result<AuthUsers> readAuthFile(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return Error{"cannot open " + path + ": " + std::strerror(errno)};
    struct stat st {};
    std::string text;
    std::string problem;
    if (::fstat(fd, &st) != 0) {
        problem = "cannot stat " + path + ": " + std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        problem = path + " is not a regular file";
    } else if (st.st_mode & (S_IROTH | S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        problem = path + " can be read or written by other users (mode " + mode +
                  "): it holds passwords; chmod 600 it (or 640 for a group)";
    } else if (st.st_size > (1 << 20)) {
        problem = path + " is larger than 1 MiB: not a file of users";
    } else {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                problem = "cannot read " + path + ": " + std::strerror(errno);
                break;
            }
            if (n == 0)
                break;
            text.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    if (!problem.empty())
        return Error{problem};
    return AuthUsers::parse(text, path);
}

// Walks a parsed TOML document against the schema, collecting every error with its position.
class Loader {
public:
    explicit Loader(std::string file) : file_(std::move(file)) {}

    void error(const toml::source_region &where, std::string_view key, const std::string &msg) {
        std::ostringstream os;
        os << file_ << ':' << where.begin.line << ':' << where.begin.column << ": " << key << ": "
           << msg;
        errors_.push_back(os.str());
    }

    // error() for helpers that report success as a bool.
    bool fail(const toml::source_region &where, std::string_view key, const std::string &msg) {
        error(where, key, msg);
        return false;
    }

    using Handler = std::function<void(const toml::node &, const std::string &key)>;
    using Section = std::map<std::string, Handler, std::less<>>;

    void section(const toml::table &root, std::string_view name, const Section &fields) {
        const toml::node *n = root.get(name);
        if (!n)
            return;
        const toml::table *t = n->as_table();
        if (!t) {
            error(n->source(), name, "expected a table ([" + std::string(name) + "])");
            return;
        }
        for (auto &&[k, v] : *t) {
            std::string full = std::string(name) + "." + std::string(k.str());
            auto it = fields.find(k.str());
            if (it == fields.end()) {
                error(k.source(), full, "unknown key");
                continue;
            }
            it->second(v, full);
        }
    }

    Handler duration(Millis &out, Millis min = Millis(0)) {
        return [this, &out, min](const toml::node &n, const std::string &key) {
            Result<Millis> r = Error{""};
            if (auto s = n.as_string())
                r = parseDuration(s->get());
            else if (auto i = n.as_integer())
                r = i->get() < 0 ? Result<Millis>(Error{"must not be negative"})
                                 : parseDuration(std::to_string(i->get()));
            else
                r = Error{"expected a duration string such as \"30s\" or a number of seconds"};
            if (!r)
                return error(n.source(), key, r.error());
            if (*r < min)
                return error(n.source(), key,
                             "must be at least " + std::to_string(min.count()) + "ms");
            out = *r;
        };
    }

    Handler size(std::uint64_t &out, std::uint64_t min = 0) {
        return [this, &out, min](const toml::node &n, const std::string &key) {
            Result<std::uint64_t> r = Error{""};
            if (auto s = n.as_string())
                r = parseSize(s->get());
            else if (auto i = n.as_integer())
                r = i->get() < 0 ? Result<std::uint64_t>(Error{"must not be negative"})
                                 : Result<std::uint64_t>(static_cast<std::uint64_t>(i->get()));
            else
                r = Error{"expected a size string such as \"64MiB\" or a number of bytes"};
            if (!r)
                return error(n.source(), key, r.error());
            if (*r < min)
                return error(n.source(), key, "must be at least " + std::to_string(min) + " bytes");
            out = *r;
        };
    }

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

    Handler string(std::string &out) {
        return [this, &out](const toml::node &n, const std::string &key) {
            auto s = n.as_string();
            if (!s)
                return error(n.source(), key, "expected a string");
            out = s->get();
        };
    }

    Handler boolean(bool &out) {
        return [this, &out](const toml::node &n, const std::string &key) {
            auto b = n.as_boolean();
            if (!b)
                return error(n.source(), key, "expected true or false");
            out = b->get();
        };
    }

    Handler address(std::optional<SocketAddress> &out) {
        return [this, &out](const toml::node &n, const std::string &key) {
            auto s = n.as_string();
            if (!s)
                return error(n.source(), key, "expected a string \"address:port\"");
            if (s->get().empty()) { // "" switches the listener off
                out.reset();
                return;
            }
            auto a = parseSocketAddress(s->get());
            if (!a)
                return error(n.source(), key, a.error());
            out = *a;
        };
    }

    Handler addressList(std::vector<SocketAddress> &out) {
        return [this, &out](const toml::node &n, const std::string &key) {
            std::vector<const toml::node *> items;
            if (n.is_string())
                items.push_back(&n);
            else if (auto arr = n.as_array())
                for (auto &e : *arr)
                    items.push_back(&e);
            else
                return error(n.source(), key, "expected \"address:port\" or a list of them");
            if (items.empty())
                return error(n.source(), key, "needs at least one address");
            std::vector<SocketAddress> result;
            for (auto *e : items) {
                auto s = e->as_string();
                if (!s)
                    return error(e->source(), key, "expected a string \"address:port\"");
                auto a = parseSocketAddress(s->get());
                if (!a)
                    return error(e->source(), key, a.error());
                result.push_back(*a);
            }
            out = std::move(result);
        };
    }

    // A list of non-empty strings, none containing a character of `forbidden`; the two messages
    // say what was expected of the list and of an item.
    Handler stringList(std::vector<std::string> &out,
                       const char *listError = "expected a list of strings",
                       const char *itemError = "expected a list of non-empty strings",
                       std::string_view forbidden = {}) {
        return [this, &out, listError, itemError, forbidden](const toml::node &n,
                                                             const std::string &key) {
            auto arr = n.as_array();
            if (!arr)
                return error(n.source(), key, listError);
            std::vector<std::string> v;
            for (auto &e : *arr) {
                auto s = e.as_string();
                if (!s || s->get().empty() ||
                    (!forbidden.empty() && s->get().find_first_of(forbidden) != std::string::npos))
                    return error(e.source(), key, itemError);
                v.push_back(s->get());
            }
            out = std::move(v);
        };
    }

    // A list of name patterns ('*' globs): printable, no spaces, '=', ';', ',' or '&'. [] allowed.
    Handler patternList(std::vector<std::string> &out) {
        return stringList(out, "expected a list of names such as [\"utm_*\"]",
                          "expected names or patterns such as \"_ga_*\" (no spaces, '=', ';', "
                          "',' or '&')",
                          " \t\r\n=;,&");
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
    bool upstreamUrl(const toml::node &n, const std::string &key, UpstreamServer &up) {
        auto s = n.as_string();
        if (!s) {
            error(n.source(), key, "expected a string such as \"http://127.0.0.1:8000\"");
            return false;
        }
        const std::string &url = s->get();
        up.url = url;
        if (url.rfind("unix:", 0) == 0) {
            up.kind = UpstreamServer::Kind::Unix;
            up.path = url.substr(5);
            if (up.path.empty() || up.path.size() > 107)
                return fail(n.source(), key, "expected \"unix:/path/to.sock\" (path 1-107 bytes)");
            return true;
        }
        if (url.rfind("https://", 0) == 0)
            return fail(n.source(), key, "https upstreams are not supported; use http:// or unix:");
        if (url.rfind("http://", 0) != 0)
            return fail(n.source(), key,
                        "expected \"http://host:port\" or \"unix:/path\", got \"" + url + "\"");
        std::string rest = url.substr(7);
        if (!rest.empty() && rest.back() == '/')
            rest.pop_back();
        if (rest.find('/') != std::string::npos || rest.find('?') != std::string::npos)
            return fail(n.source(), key, "a path in the upstream URL is not supported");
        up.kind = UpstreamServer::Kind::Tcp;
        std::string hostPart = rest, portPart = "80";
        if (!rest.empty() && rest.front() == '[') {
            auto close = rest.find(']');
            if (close == std::string::npos)
                return fail(n.source(), key, "unterminated IPv6 address");
            hostPart = rest.substr(1, close - 1);
            if (close + 1 < rest.size()) {
                if (rest[close + 1] != ':')
                    return fail(n.source(), key, "expected ':' after ']'");
                portPart = rest.substr(close + 2);
            }
        } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
            hostPart = rest.substr(0, colon);
            portPart = rest.substr(colon + 1);
        }
        if (hostPart.empty())
            return fail(n.source(), key, "missing host");
        if (portPart.empty() || portPart.size() > 5 ||
            portPart.find_first_not_of("0123456789") != std::string::npos)
            return fail(n.source(), key, "port must be a number from 1 to 65535");
        unsigned long port = std::stoul(portPart);
        if (port == 0 || port > 65535)
            return fail(n.source(), key, "port " + portPart + " out of range (1-65535)");
        up.host = hostPart;
        up.port = static_cast<std::uint16_t>(port);
        return true;
    }

    // upstream.servers: a non-empty list of distinct servers, each a URL or a table
    // { url = "...", weight = N, backup = true }.
    void upstreamServers(const toml::node &n, const std::string &key, UpstreamConfig &up) {
        auto arr = n.as_array();
        if (!arr || arr->empty())
            return error(n.source(), key,
                         "expected a list of server URLs such as [\"http://10.0.0.1:8000\", "
                         "\"http://10.0.0.2:8000\"]");
        if (arr->size() > UpstreamConfig::kMaxServers)
            return error(n.source(), key,
                         "at most " + std::to_string(UpstreamConfig::kMaxServers) + " servers");
        std::vector<UpstreamServer> list;
        for (auto &e : *arr) {
            UpstreamServer one;
            if (const toml::table *t = e.as_table()) {
                for (auto &&[k, v] : *t) {
                    if (k.str() == "url") {
                        if (!upstreamUrl(v, key, one))
                            return;
                    } else if (k.str() == "weight") {
                        integer(one.weight, 1, 1000)(v, key + ".weight");
                    } else if (k.str() == "backup") {
                        boolean(one.backup)(v, key + ".backup");
                    } else {
                        return error(k.source(), key,
                                     "unknown key \"" + std::string(k.str()) +
                                         "\" (expected url, weight, backup)");
                    }
                }
                if (!t->get("url"))
                    return error(e.source(), key, "each server table needs url = \"http://...\"");
            } else if (!upstreamUrl(e, key, one)) {
                return;
            }
            for (const auto &other : list)
                if (other.url == one.url)
                    return error(e.source(), key, "\"" + one.url + "\" is listed twice");
            list.push_back(std::move(one));
        }
        if (std::all_of(list.begin(), list.end(), [](const UpstreamServer &s) { return s.backup; }))
            return error(n.source(), key, "every server is a backup: at least one must not be");
        up.servers = std::move(list);
    }

    LoadResult load(const toml::table &root) {
        Config c;
        c.sourceFile = file_;
        static const std::vector<std::string> kSections = {"server",    "upstream", "cache",
                                                           "memcached", "admin",    "log"};
        for (auto &&[k, v] : root) {
            bool known = false;
            for (auto &s : kSections)
                known |= (k.str() == s);
            if (!known)
                error(k.source(), k.str(),
                      "unknown section (expected one of [server], [upstream], "
                      "[cache], [memcached], [admin], [log])");
        }
        const std::int64_t i32max = 1 << 30;
        section(root, "server",
                {{"listen", addressList(c.server.listen)},
                 {"workers", integer(c.server.workers, 0, 256)},
                 {"header_timeout", duration(c.server.headerTimeout, Millis(1))},
                 {"body_timeout", duration(c.server.bodyTimeout, Millis(1))},
                 {"idle_timeout", duration(c.server.idleTimeout, Millis(1))},
                 {"drain_timeout", duration(c.server.drainTimeout)},
                 {"max_header_size", size(c.server.maxHeaderSize, 1024)},
                 {"max_uri_size", size(c.server.maxUriSize, 256)},
                 {"max_body", size(c.server.maxBody)},
                 {"max_client_connections", integer(c.server.maxClientConnections, 0, i32max)},
                 {"trusted_proxies",
                  [&](const toml::node &n, const std::string &key) {
                      stringList(c.server.trustedProxiesText)(n, key);
                      c.server.trustedProxies.clear();
                      for (const auto &t : c.server.trustedProxiesText) {
                          if (auto b = AddressBlock::parse(t))
                              c.server.trustedProxies.push_back(*b);
                          else
                              error(n.source(), key,
                                    "\"" + t +
                                        "\" is not an address or CIDR block (e.g. \"10.0.0.0/8\", "
                                        "\"::1\")");
                      }
                  }},
                 {"proxy_protocol", boolean(c.server.proxyProtocol)},
                 {"underscores_in_headers", boolean(c.server.underscoresInHeaders)},
                 {"temp_dir", string(c.server.tempDir)}});
        section(root, "upstream",
                {{"url",
                  [&](const toml::node &n, const std::string &key) {
                      UpstreamServer one;
                      if (upstreamUrl(n, key, one))
                          c.upstream.servers = {one};
                  }},
                 {"servers", [&](const toml::node &n,
                                 const std::string &key) { upstreamServers(n, key, c.upstream); }},
                 {"balance",
                  choice(c.upstream.balance,
                         {{"round_robin", UpstreamConfig::Balance::RoundRobin},
                          {"least_connections", UpstreamConfig::Balance::LeastConnections}})},
                 {"max_fails", integer(c.upstream.maxFails, 0, 1000)},
                 {"fail_timeout", duration(c.upstream.failTimeout, Millis(1))},
                 {"health_check",
                  [&](const toml::node &n, const std::string &key) {
                      string(c.upstream.healthCheck)(n, key);
                      const std::string &p = c.upstream.healthCheck;
                      if (!p.empty() &&
                          (p[0] != '/' || p.find_first_of(" \t\r\n") != std::string::npos))
                          error(n.source(), key,
                                "expected a path such as \"/health\" (or \"\" for none)");
                  }},
                 {"health_check_host",
                  [&](const toml::node &n, const std::string &key) {
                      string(c.upstream.healthCheckHost)(n, key);
                      if (c.upstream.healthCheckHost.find_first_of(" \t\r\n/") != std::string::npos)
                          error(n.source(), key, "expected a host name, e.g. \"www.example.com\"");
                  }},
                 {"health_interval", duration(c.upstream.healthInterval, Millis(10))},
                 {"health_timeout", duration(c.upstream.healthTimeout, Millis(1))},
                 {"connect_timeout", duration(c.upstream.connectTimeout, Millis(1))},
                 {"read_timeout", duration(c.upstream.readTimeout, Millis(1))},
                 {"pool_idle_timeout", duration(c.upstream.poolIdleTimeout, Millis(1))},
                 {"queue_timeout", duration(c.upstream.queueTimeout, Millis(1))},
                 {"max_connections", integer(c.upstream.maxConnections, 1, 100000)},
                 {"max_queue", integer(c.upstream.maxQueue, 0, i32max)},
                 {"buffer_chunked_bodies", boolean(c.upstream.bufferChunkedBodies)}});
        section(root, "cache",
                {{"seconds", integer(c.cache.seconds, 0, std::int64_t(10) * 365 * 86400)},
                 {"mode", choice(c.cache.mode, {{"django", CacheConfig::Mode::Django},
                                                {"http", CacheConfig::Mode::Http}})},
                 {"heuristic_fraction",
                  [&](const toml::node &n, const std::string &key) {
                      std::optional<double> v = n.value<double>();
                      if (!v || *v < 0 || *v > 1)
                          return error(n.source(), key, "expected a number from 0 to 1, e.g. 0.1");
                      c.cache.heuristicFraction = *v;
                  }},
                 {"heuristic_max", duration(c.cache.heuristicMax)},
                 {"honor_client_no_cache", boolean(c.cache.honorClientNoCache)},
                 {"targeted_cache_control",
                  [&](const toml::node &n, const std::string &key) {
                      string(c.cache.targetedField)(n, key);
                      for (unsigned char ch : c.cache.targetedField)
                          if (!(std::isalnum(ch) || ch == '-' || ch == '_'))
                              return error(n.source(), key,
                                           "expected a field name such as \"CDN-Cache-Control\"");
                  }},
                 {"key_prefix", string(c.cache.keyPrefix)},
                 {"query_strings",
                  choice(c.cache.queryStrings, {{"bypass", CacheConfig::QueryStrings::Bypass},
                                                {"key", CacheConfig::QueryStrings::Key}})},
                 {"memory", size(c.cache.memory, 1 << 20)},
                 {"max_object_size", size(c.cache.maxObjectSize, 1024)},
                 {"status_header", string(c.cache.statusHeader)},
                 {"grace", duration(c.cache.grace)},
                 {"stale_if_error", duration(c.cache.staleIfError)},
                 {"lock_timeout", duration(c.cache.lockTimeout, Millis(1))},
                 {"coalesce", boolean(c.cache.coalesce)},
                 {"lock_max_waiters", integer(c.cache.lockMaxWaiters, 0, i32max)},
                 {"hit_for_miss", duration(c.cache.hitForMiss)},
                 {"store_set_cookie", boolean(c.cache.storeSetCookie)},
                 {"cache_status", boolean(c.cache.cacheStatus)},
                 {"cache_status_key", boolean(c.cache.cacheStatusKey)},
                 {"bypass_paths", stringList(c.cache.bypassPaths)},
                 {"bypass_cookies", stringList(c.cache.bypassCookies)},
                 {"shared_servers", addressList(c.cache.sharedServers)},
                 {"shared_timeout", duration(c.cache.sharedTimeout, Millis(1))},
                 {"snapshot", string(c.cache.snapshot)},
                 {"ignore_query_params", patternList(c.cache.ignoreQueryParams)},
                 {"ignore_cookies", patternList(c.cache.ignoreCookies)},
                 {"key_cookies", patternList(c.cache.keyCookies)},
                 {"compress",
                  [&](const toml::node &n, const std::string &key) {
                      stringList(c.cache.compress, "expected a list such as [\"br\", \"gzip\"]",
                                 "expected \"br\", \"gzip\" or \"zstd\"")(n, key);
                      for (std::size_t i = 0; i < c.cache.compress.size(); ++i) {
                          const std::string &name = c.cache.compress[i];
                          if (name != "br" && name != "gzip" && name != "zstd")
                              return error(n.source(), key,
                                           "\"" + name +
                                               "\" is not a coding frontcache makes (expected "
                                               "\"br\", \"gzip\" or \"zstd\")");
                          for (std::size_t j = 0; j < i; ++j)
                              if (c.cache.compress[j] == name)
                                  return error(n.source(), key, "\"" + name + "\" is listed twice");
                      }
                  }},
                 {"compress_types",
                  [&](const toml::node &n, const std::string &key) {
                      stringList(c.cache.compressTypes,
                                 "expected a list of media types such as [\"text/*\"]",
                                 "expected media types such as \"application/json\" (no spaces, "
                                 "';' or ',')",
                                 " \t\r\n;,")(n, key);
                      for (auto &t : c.cache.compressTypes) {
                          if (t.find('/') == std::string::npos)
                              return error(n.source(), key,
                                           "\"" + t + "\" is not a media type (type/subtype)");
                          for (char &ch : t)
                              ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                      }
                  }},
                 {"compress_min_size", size(c.cache.compressMinSize)},
                 {"snapshot_interval", duration(c.cache.snapshotInterval)}});
        section(root, "memcached",
                {{"listen", address(c.memcached.listen)},
                 {"auth_file", [&](const toml::node &n, const std::string &key) {
                      string(c.memcached.authFile)(n, key);
                      c.memcached.authUsers.reset();
                      if (c.memcached.authFile.empty())
                          return;
                      auto users = readAuthFile(c.memcached.authFile);
                      if (!users)
                          return error(n.source(), key, users.error());
                      c.memcached.authUsers = std::make_shared<const AuthUsers>(std::move(*users));
                  }}});
        section(root, "admin",
                {{"listen", address(c.admin.listen)},
                 {"peers",
                  [&](const toml::node &n, const std::string &key) {
                      if (auto arr = n.as_array(); arr && arr->empty())
                          c.admin.peers.clear();
                      else
                          addressList(c.admin.peers)(n, key);
                  }},
                 {"token",
                  [&](const toml::node &n, const std::string &key) {
                      string(c.admin.token)(n, key);
                      for (unsigned char ch : c.admin.token)
                          if (ch <= ' ' || ch >= 0x7f)
                              return error(n.source(), key,
                                           "printable characters only, no spaces (it is sent "
                                           "in an Authorization header)");
                  }},
                 {"allow_purge_from", [&](const toml::node &n, const std::string &key) {
                      stringList(c.admin.allowPurgeFrom)(n, key);
                      for (const auto &a : c.admin.allowPurgeFrom) {
                          unsigned char buf[16];
                          if (inet_pton(AF_INET, a.c_str(), buf) != 1 &&
                              inet_pton(AF_INET6, a.c_str(), buf) != 1)
                              error(n.source(), key, "\"" + a + "\" is not a numeric IP address");
                      }
                  }}});
        section(root, "log",
                {{"level", choice(c.log.level, {{"error", LogConfig::Level::Error},
                                                {"warn", LogConfig::Level::Warn},
                                                {"info", LogConfig::Level::Info},
                                                {"debug", LogConfig::Level::Debug}})},
                 {"access_log", string(c.log.accessLog)},
                 {"format", choice(c.log.format, {{"text", LogConfig::Format::Text},
                                                  {"json", LogConfig::Format::Json}})}});

        // Cross-field checks.
        if (auto *cache = root.get("cache"); cache && cache->is_table()) {
            auto *mos = cache->as_table()->get("max_object_size");
            if (c.cache.maxObjectSize > c.cache.memory && mos)
                error(mos->source(), "cache.max_object_size", "must not exceed cache.memory");
        }
        if (auto *s = root.get("server"); s && s->is_table()) {
            auto *mu = s->as_table()->get("max_uri_size");
            if (mu && c.server.maxUriSize > c.server.maxHeaderSize)
                error(mu->source(), "server.max_uri_size",
                      "must not exceed server.max_header_size");
        }
        if (c.cache.keyPrefix.size() > 100 ||
            c.cache.keyPrefix.find_first_of(" \t\r\n") != std::string::npos) {
            error(root.get("cache")->as_table()->get("key_prefix")->source(), "cache.key_prefix",
                  "at most 100 characters, no spaces (cache keys must stay within memcached's "
                  "250 bytes)");
        }
        if (!c.cache.statusHeader.empty() &&
            c.cache.statusHeader.find_first_of(" \t\r\n:") != std::string::npos) {
            error(root.get("cache")->as_table()->get("status_header")->source(),
                  "cache.status_header", "must be a header name (no spaces or colons)");
        }

        if (auto *u = root.get("upstream"); u && u->is_table()) {
            auto *servers = u->as_table()->get("servers");
            if (servers && u->as_table()->get("url"))
                error(servers->source(), "upstream.servers",
                      "give either upstream.url (one server) or upstream.servers, not both");
        }

        LoadResult r;
        r.errors = std::move(errors_);
        if (r.errors.empty())
            r.config = std::move(c);
        return r;
    }

private:
    std::string file_;
    std::vector<std::string> errors_;
};

} // namespace

LoadResult loadConfigString(std::string_view text, const std::string &name) {
    Loader loader(name);
    try {
        toml::table root = toml::parse(text, name);
        return loader.load(root);
    } catch (const toml::parse_error &e) {
        std::ostringstream os;
        os << name << ':' << e.source().begin.line << ':' << e.source().begin.column
           << ": syntax error: " << e.description();
        return LoadResult{std::nullopt, {os.str()}};
    }
}

LoadResult loadConfigFile(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return LoadResult{std::nullopt, {path + ": cannot read config file"}};
    std::ostringstream ss;
    ss << in.rdbuf();
    return loadConfigString(ss.str(), path);
}

} // namespace fc::config
