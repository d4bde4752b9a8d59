#include "config/loader.h"
#include <atomic>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace fc::config {

namespace {

// The Content-Type of upstream.unavailable_page, from its extension: a maintenance page is HTML
// unless its name says otherwise.
std::string mediaTypeOfFile(std::string_view path) {
    const std::size_t dot = path.rfind('.');
    std::string ext;
    if (dot != std::string_view::npos && path.find('/', dot) == std::string_view::npos)
        for (char ch : path.substr(dot + 1))
            ext.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    if (ext == "txt")
        return "text/plain; charset=utf-8";
    if (ext == "json")
        return "application/json";
    if (ext == "xml")
        return "application/xml";
    return "text/html; charset=utf-8";
}
// The bound of counts that have no natural one (connections, queued requests, waiters).
constexpr std::int64_t kCountMax = 1 << 30;
} // namespace

LoadResult Loader::load(const toml::table &root) {
    Config c;
    c.sourceFile = file_;
    static std::atomic<std::uint64_t> loaded{0}; // each load its own generation
    c.generation = ++loaded;
    static const std::vector<std::string> kSections = {"server", "upstream", "cache",  "memcached",
                                                       "admin",  "log",      "limits", "rules"};
    for (auto &&[k, v] : root) {
        bool known = false;
        for (auto &s : kSections)
            known |= (k.str() == s);
        if (!known)
            error(k.source(), k.str(),
                  "unknown section (expected one of [server], [upstream], "
                  "[cache], [memcached], [admin], [log], [limits], [[rules]])");
    }
    loadServer(root, c.server);
    loadUpstream(root, c.upstream);
    loadCache(root, c.cache);
    loadMemcached(root, c.memcached);
    loadAdmin(root, c.admin);
    loadLog(root, c.log);
    loadLimits(root, c.limits);
    loadRules(root, c.rules, c.upstream.groups);
    checkAcrossFields(root, c);

    LoadResult r;
    r.errors = std::move(errors_);
    if (r.errors.empty())
        r.config = std::move(c);
    return r;
}

void Loader::loadServer(const toml::table &root, ServerConfig &c) {
    section(root, "server",
            {{"listen", addressList(c.listen)},
             {"workers", integer(c.workers, 0, 256)},
             {"header_timeout", duration(c.headerTimeout, Millis(1))},
             {"body_timeout", duration(c.bodyTimeout, Millis(1))},
             {"idle_timeout", duration(c.idleTimeout, Millis(1))},
             {"drain_timeout", duration(c.drainTimeout)},
             {"max_header_size", size(c.maxHeaderSize, 1024)},
             {"max_uri_size", size(c.maxUriSize, 256)},
             {"max_body", size(c.maxBody)},
             {"max_client_connections", integer(c.maxClientConnections, 0, kCountMax)},
             {"trusted_proxies", addressBlocks(c.trustedProxiesText, c.trustedProxies)},
             {"proxy_protocol", boolean(c.proxyProtocol)},
             {"underscores_in_headers", boolean(c.underscoresInHeaders)},
             {"temp_dir", string(c.tempDir)},
             {"websockets", boolean(c.websockets)},
             {"tunnel_idle_timeout", duration(c.tunnelIdleTimeout, Millis(1))},
             {"max_tunnels", integer(c.maxTunnels, 1, kCountMax)}});
}

void Loader::loadUpstream(const toml::table &root, UpstreamConfig &c) {
    std::vector<UpstreamServer> groupServers; // [[upstream.groups]]' servers, tagged
    section(
        root, "upstream",
        {{"url",
          [&](const toml::node &n, const std::string &key) {
              UpstreamServer one;
              if (upstreamUrl(n, key, one))
                  c.servers = {one};
          }},
         {"servers",
          [&](const toml::node &n, const std::string &key) { upstreamServers(n, key, c); }},
         {"balance",
          choice(c.balance, {{"round_robin", UpstreamConfig::Balance::RoundRobin},
                             {"least_connections", UpstreamConfig::Balance::LeastConnections}})},
         {"max_fails", integer(c.maxFails, 0, 1000)},
         {"fail_timeout", duration(c.failTimeout, Millis(1))},
         {"health_check",
          [&](const toml::node &n, const std::string &key) {
              string(c.healthCheck)(n, key);
              const std::string &p = c.healthCheck;
              if (!p.empty() && (p[0] != '/' || p.find_first_of(" \t\r\n") != std::string::npos))
                  error(n.source(), key, "expected a path such as \"/health\" (or \"\" for none)");
          }},
         {"health_check_host",
          [&](const toml::node &n, const std::string &key) {
              string(c.healthCheckHost)(n, key);
              if (c.healthCheckHost.find_first_of(" \t\r\n/") != std::string::npos)
                  error(n.source(), key, "expected a host name, e.g. \"www.example.com\"");
          }},
         {"health_interval", duration(c.healthInterval, Millis(10))},
         {"health_timeout", duration(c.healthTimeout, Millis(1))},
         {"resolver", string(c.resolver)},
         {"resolve_min_ttl", duration(c.resolveMinTtl, Millis(1000))},
         {"resolve_max_ttl", duration(c.resolveMaxTtl, Millis(1))},
         {"connect_timeout", duration(c.connectTimeout, Millis(1))},
         {"read_timeout", duration(c.readTimeout, Millis(1))},
         {"pool_idle_timeout", duration(c.poolIdleTimeout, Millis(1))},
         {"queue_timeout", duration(c.queueTimeout, Millis(1))},
         {"max_connections", integer(c.maxConnections, 1, 100000)},
         {"max_queue", integer(c.maxQueue, 0, kCountMax)},
         {"buffer_chunked_bodies", boolean(c.bufferChunkedBodies)},
         {"unavailable_page",
          [&](const toml::node &n, const std::string &key) {
              string(c.unavailablePage)(n, key);
              c.unavailableBody.reset();
              if (c.unavailablePage.empty())
                  return;
              Result<std::string> body = readSmallFile(c.unavailablePage, 1 << 20, false);
              if (!body)
                  return error(n.source(), key, body.error());
              c.unavailableBody = std::make_shared<const std::string>(std::move(*body));
              c.unavailableType = mediaTypeOfFile(c.unavailablePage);
          }},
         {"unavailable_retry_after", duration(c.unavailableRetryAfter, Millis(1000))},
         {"groups", [&](const toml::node &n, const std::string &key) {
              upstreamGroups(n, key, groupServers, c.groups);
          }}});
    // The groups' servers follow the default ones, each tagged with its group.
    for (auto &s : groupServers) {
        for (const auto &other : c.servers)
            if (other.url == s.url)
                error(root.get("upstream")->source(), "upstream.groups",
                      "\"" + s.url + "\" is a server of two groups (give each group its own)");
        c.servers.push_back(std::move(s));
    }
    if (c.servers.size() > UpstreamConfig::kMaxServers)
        error(root.get("upstream")->source(), "upstream.groups",
              "at most " + std::to_string(UpstreamConfig::kMaxServers) +
                  " servers in all groups together");
}

void Loader::loadCache(const toml::table &root, CacheConfig &c) {
    section(
        root, "cache",
        {{"seconds", integer(c.seconds, 0, std::int64_t(10) * 365 * 86400)},
         {"mode", choice(c.mode, {{"django", CacheConfig::Mode::Django},
                                  {"http", CacheConfig::Mode::Http}})},
         {"heuristic_fraction",
          [&](const toml::node &n, const std::string &key) {
              std::optional<double> v = n.value<double>();
              if (!v || *v < 0 || *v > 1)
                  return error(n.source(), key, "expected a number from 0 to 1, e.g. 0.1");
              c.heuristicFraction = *v;
          }},
         {"heuristic_max", duration(c.heuristicMax)},
         {"honor_client_no_cache", boolean(c.honorClientNoCache)},
         {"targeted_cache_control",
          [&](const toml::node &n, const std::string &key) {
              string(c.targetedField)(n, key);
              for (unsigned char ch : c.targetedField)
                  if (!(std::isalnum(ch) || ch == '-' || ch == '_'))
                      return error(n.source(), key,
                                   "expected a field name such as \"CDN-Cache-Control\"");
          }},
         {"forward_targeted_cache_control", boolean(c.forwardTargetedField)},
         {"key_prefix", string(c.keyPrefix)},
         {"query_strings", choice(c.queryStrings, {{"bypass", CacheConfig::QueryStrings::Bypass},
                                                   {"key", CacheConfig::QueryStrings::Key}})},
         {"memory", size(c.memory, 1 << 20)},
         {"max_object_size", size(c.maxObjectSize, 1024)},
         {"status_header", string(c.statusHeader)},
         {"max_ttl",
          [&](const toml::node &n, const std::string &key) {
              // Within what a page's 32-bit lifetime fields hold, with room for its windows.
              duration(c.maxTtl, Millis(1000))(n, key);
              if (c.maxTtl > std::chrono::hours(24 * 365 * 100))
                  error(n.source(), key, "must be at most 100 years");
          }},
         {"grace", duration(c.grace)},
         {"stale_if_error", duration(c.staleIfError)},
         {"lock_timeout", duration(c.lockTimeout, Millis(1))},
         {"coalesce", boolean(c.coalesce)},
         {"lock_max_waiters", integer(c.lockMaxWaiters, 0, kCountMax)},
         {"hit_for_miss", duration(c.hitForMiss)},
         {"store_set_cookie", boolean(c.storeSetCookie)},
         {"cache_status", boolean(c.cacheStatus)},
         {"cache_status_key", boolean(c.cacheStatusKey)},
         {"bypass_paths", stringList(c.bypassPaths)},
         {"bypass_cookies", stringList(c.bypassCookies)},
         {"shared_servers", addressList(c.sharedServers)},
         {"shared_timeout", duration(c.sharedTimeout, Millis(1))},
         {"snapshot", string(c.snapshot)},
         {"ignore_query_params", patternList(c.ignoreQueryParams)},
         {"ignore_cookies", patternList(c.ignoreCookies)},
         {"key_cookies", patternList(c.keyCookies)},
         {"compress", codingList(c.compress)},
         {"compress_types", mediaTypeList(c.compressTypes)},
         {"compress_min_size", size(c.compressMinSize)},
         // cache groups (config/groups.cpp)
         {"group_fields", groupFieldList(c.groupFields)},
         {"forward_group_aliases", boolean(c.forwardGroupAliases)},
         {"snapshot_interval", duration(c.snapshotInterval)}});
}

void Loader::loadMemcached(const toml::table &root, MemcachedConfig &c) {
    section(root, "memcached",
            {{"listen", address(c.listen)},
             {"auth_file", [&](const toml::node &n, const std::string &key) {
                  string(c.authFile)(n, key);
                  c.authUsers.reset();
                  if (c.authFile.empty())
                      return;
                  auto users = readAuthFile(c.authFile);
                  if (!users)
                      return error(n.source(), key, users.error());
                  c.authUsers = std::make_shared<const AuthUsers>(std::move(*users));
              }}});
}

void Loader::loadAdmin(const toml::table &root, AdminConfig &c) {
    section(root, "admin",
            {{"listen", address(c.listen)},
             {"peers",
              [&](const toml::node &n, const std::string &key) {
                  if (auto arr = n.as_array(); arr && arr->empty())
                      c.peers.clear();
                  else
                      addressList(c.peers)(n, key);
              }},
             {"token",
              [&](const toml::node &n, const std::string &key) {
                  string(c.token)(n, key);
                  for (unsigned char ch : c.token)
                      if (ch <= ' ' || ch >= 0x7f)
                          return error(n.source(), key,
                                       "printable characters only, no spaces (it is sent "
                                       "in an Authorization header)");
              }},
             {"allow_purge_from", [&](const toml::node &n, const std::string &key) {
                  stringList(c.allowPurgeFrom)(n, key);
                  for (const auto &a : c.allowPurgeFrom) {
                      unsigned char buf[16];
                      if (inet_pton(AF_INET, a.c_str(), buf) != 1 &&
                          inet_pton(AF_INET6, a.c_str(), buf) != 1)
                          error(n.source(), key, "\"" + a + "\" is not a numeric IP address");
                  }
              }}});
}

void Loader::loadLog(const toml::table &root, LogConfig &c) {
    section(root, "log",
            {{"level", choice(c.level, {{"error", LogConfig::Level::Error},
                                        {"warn", LogConfig::Level::Warn},
                                        {"info", LogConfig::Level::Info},
                                        {"debug", LogConfig::Level::Debug}})},
             {"access_log", string(c.accessLog)},
             {"format", choice(c.format, {{"text", LogConfig::Format::Text},
                                          {"json", LogConfig::Format::Json}})}});
}

void Loader::checkAcrossFields(const toml::table &root, const Config &c) {
    if (auto *cache = root.get("cache"); cache && cache->is_table()) {
        auto *mos = cache->as_table()->get("max_object_size");
        if (c.cache.maxObjectSize > c.cache.memory && mos)
            error(mos->source(), "cache.max_object_size", "must not exceed cache.memory");
    }
    if (auto *s = root.get("server"); s && s->is_table()) {
        auto *mu = s->as_table()->get("max_uri_size");
        if (mu && c.server.maxUriSize > c.server.maxHeaderSize)
            error(mu->source(), "server.max_uri_size", "must not exceed server.max_header_size");
    }
    if (c.cache.keyPrefix.size() > 100 ||
        c.cache.keyPrefix.find_first_of(" \t\r\n") != std::string::npos) {
        error(root.get("cache")->as_table()->get("key_prefix")->source(), "cache.key_prefix",
              "at most 100 characters, no spaces (cache keys must stay within memcached's "
              "250 bytes)");
    }
    if (!c.cache.statusHeader.empty() &&
        c.cache.statusHeader.find_first_of(" \t\r\n:") != std::string::npos) {
        error(root.get("cache")->as_table()->get("status_header")->source(), "cache.status_header",
              "must be a header name (no spaces or colons)");
    }

    if (auto *u = root.get("upstream"); u && u->is_table()) {
        if (auto *r = u->as_table()->get("resolver")) {
            // DNS servers for c-ares: numeric addresses, each with an optional port (53).
            std::string_view rest = c.upstream.resolver;
            auto trimSpaces = [](std::string_view v) {
                while (!v.empty() && v.front() == ' ')
                    v.remove_prefix(1);
                while (!v.empty() && v.back() == ' ')
                    v.remove_suffix(1);
                return v;
            };
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                std::string one(trimSpaces(rest.substr(0, comma)));
                rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
                const bool hasPort = one.starts_with('[')
                                         ? one.find("]:") != std::string::npos
                                         : std::count(one.begin(), one.end(), ':') == 1;
                if (!hasPort)
                    one = (one.find(':') != std::string::npos && !one.starts_with('['))
                              ? "[" + one + "]:53"
                              : one + ":53";
                if (auto a = parseSocketAddress(one); !a)
                    error(r->source(), "upstream.resolver",
                          "\"" + one + "\": " + a.error() +
                              " (DNS servers as numeric addresses, e.g. \"127.0.0.1:5353, ::1\")");
            }
        }
        if (c.upstream.resolveMaxTtl < c.upstream.resolveMinTtl) {
            auto *m = u->as_table()->get("resolve_max_ttl");
            if (!m)
                m = u->as_table()->get("resolve_min_ttl");
            error(m->source(),
                  m == u->as_table()->get("resolve_max_ttl") ? "upstream.resolve_max_ttl"
                                                             : "upstream.resolve_min_ttl",
                  "resolve_min_ttl must not exceed resolve_max_ttl (default 5m)");
        }
        auto *servers = u->as_table()->get("servers");
        if (servers && u->as_table()->get("url"))
            error(servers->source(), "upstream.servers",
                  "give either upstream.url (one server) or upstream.servers, not both");
    }
}

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
