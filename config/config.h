// frontcache's configuration: plain, immutable value types loaded from TOML.
//
// Ownership: a Config is a value; the proxy shares one loaded Config between workers as a
// shared_ptr<const Config>, so it is read-only after loading and safe to read from any thread.
// Loading (loadConfigFile/loadConfigString) may be called from any thread; it does no network
// I/O (upstream host names are resolved by proxy/ at start-up).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/address_block.h"
#include "common/auth_users.h"
#include "common/log.h"
#include "config/units.h"

namespace fc::config {

using namespace std::chrono_literals;

// A listen or connect address in numeric form ("127.0.0.1:8080", "[::1]:8080", "0.0.0.0:0").
struct SocketAddress {
    std::string host; // numeric IPv4 or IPv6 literal, without brackets
    std::uint16_t port = 0;
    bool ipv6 = false;

    std::string text() const; // "127.0.0.1:8080" / "[::1]:8080"
};

struct ServerConfig {
    std::vector<SocketAddress> listen{{"127.0.0.1", 8080, false}};
    unsigned workers = 0;                    // 0 = one per core
    Millis headerTimeout = 10s;              // whole request head must arrive within this (408)
    Millis bodyTimeout = 30s;                // gap allowed between request body reads (408)
    Millis idleTimeout = 60s;                // keep-alive connection with no request in flight
    Millis drainTimeout = 10s;               // SIGTERM: in-flight requests get this long to finish
    std::uint64_t maxHeaderSize = 16 * 1024; // whole request head; 431 beyond
    std::uint64_t maxUriSize = 8 * 1024;     // request target; 414 beyond
    std::uint64_t maxBody = 100ull << 20;    // request body; 413 beyond
    unsigned maxClientConnections = 0;       // per worker; 0 = limited only by descriptors
    // Peers (addresses and CIDR blocks) whose X-Forwarded-For / -Proto / -Host and Forwarded
    // are believed: a TLS terminator or load balancer in front. Empty: nobody's.
    std::vector<std::string> trustedProxiesText;
    std::vector<AddressBlock> trustedProxies;
    // Every connection starts with a PROXY protocol header (v1 or v2); without one it is closed.
    // With trustedProxies set, only a trusted peer's header is believed.
    bool proxyProtocol = false;
    // Request fields whose names contain '_' are forwarded (and keyed) instead of dropped.
    // Off by default, as in nginx: WSGI and CGI servers read `Accept_Language` as
    // `Accept-Language`, so such a field could change a page its key does not describe.
    bool underscoresInHeaders = false;
    // Where chunked request bodies over 1 MiB are buffered (unlinked files); "" = $TMPDIR or /tmp.
    std::string tempDir;
    // WebSocket handshakes go upstream with their Upgrade; a 101 turns the connection into a
    // two-way byte tunnel (proxy/client.h). Off: Upgrade is dropped, as for any other protocol.
    bool websockets = true;
    Millis tunnelIdleTimeout = 300s; // a tunnel with no byte either way for this long is closed
    unsigned maxTunnels = 4096;      // per worker; handshakes beyond get 503
};

// One application server: `url` as written, and what it names.
struct UpstreamServer {
    enum class Kind { Tcp, Unix };
    std::string url = "http://127.0.0.1:8000";
    Kind kind = Kind::Tcp;
    std::string host = "127.0.0.1"; // Tcp: host name or address literal
    std::uint16_t port = 8000;      // Tcp
    std::string path;               // Unix: socket path
    unsigned weight = 1;            // share of requests relative to the other servers
    bool backup = false;            // used only while every non-backup server is left out
    // The upstream group it serves (0: upstream.url/servers; k: upstream.groups[k - 1]). A
    // request goes to its group's servers only ([[rules]] upstream = "NAME").
    std::size_t pool = 0;
};

// [[upstream.groups]]: another set of servers, chosen per route by [[rules]] (e.g. /ws/ to an
// ASGI server, /api/ to another pool). Their servers are in UpstreamConfig::servers, each with
// `pool` naming its group; the balancing, health and timeout settings are upstream's.
struct UpstreamGroup {
    std::string name;
};

struct UpstreamConfig {
    using Kind = UpstreamServer::Kind;
    // How a request picks among several servers (upstream.balance).
    enum class Balance { RoundRobin, LeastConnections };
    static constexpr std::size_t kMaxServers = 64;
    // upstream.url (one server) or upstream.servers (several); never empty, and at least one
    // server is not a backup.
    std::vector<UpstreamServer> servers{UpstreamServer{}};
    std::vector<UpstreamGroup> groups; // [[upstream.groups]], in order (pool 1, 2...)
    static constexpr std::size_t kMaxGroups = 15;
    Balance balance = Balance::RoundRobin;
    // Passive health, with two or more servers: a server that fails this many exchanges in a row
    // (refused, connect or read timeout, reset, malformed response) is left out for fail_timeout;
    // then one request tries it, and each failed try doubles the wait (up to 16x). 0 = never.
    unsigned maxFails = 3;
    Millis failTimeout = 10s;
    // Active health check: GET this path on every server each interval; a server whose check
    // fails (no 2xx/3xx within health_timeout) max_fails times in a row is left out until a check
    // passes. "" = off.
    std::string healthCheck;
    std::string healthCheckHost; // Host header of the checks; "" = the server's host:port
    Millis healthInterval = 5s;
    Millis healthTimeout = 2s;
    Millis connectTimeout = 2s;
    Millis readTimeout = 30s;     // no response byte from the upstream for this long: 504
    Millis poolIdleTimeout = 30s; // idle keep-alive upstream connection is closed after this
    Millis queueTimeout = 5s;     // waiting for a free upstream connection: 503 after this
    unsigned maxConnections = 64; // concurrent upstream requests, all workers together
    unsigned maxQueue = 1024;     // per worker; requests beyond get 503 at once
    // upstream.unavailable_page: a file answered with 503 and Retry-After when the app cannot be
    // reached (no server up, every connect failed) and no stale copy exists, instead of a bare
    // 502. Read when the config is loaded (a SIGHUP re-reads it); "" = off.
    std::string unavailablePage;
    std::shared_ptr<const std::string> unavailableBody; // its bytes (null when off)
    std::string unavailableType;                        // its Content-Type, from its extension
    Millis unavailableRetryAfter = 30s;                 // upstream.unavailable_retry_after
    // A chunked request body is read whole and sent with Content-Length (WSGI servers read
    // CONTENT_LENGTH only); false passes it through chunked, as it arrives.
    bool bufferChunkedBodies = true;
    // Host names in url/servers are resolved again while running (proxy/resolver.h), each as
    // often as its records' TTL says, kept within these bounds; "" resolver = the system's
    // (/etc/resolv.conf), else DNS servers as "host[:port]" separated by commas.
    std::string resolver;
    Millis resolveMinTtl = 1s;
    Millis resolveMaxTtl = 300s;

    // "http://a:1, http://b:2 (weight 3), http://c:3 (backup)": for logs and for noticing a
    // change on reload.
    std::string describe() const;
};

struct CacheConfig {
    enum class QueryStrings { Bypass, Key };
    // "django": Django's per-site cache rules (cache/policy/policy.h). "http": a shared cache per
    // RFC 9111 (cache/policy/http.h) for applications that say what may be stored.
    enum class Mode { Django, Http };
    Mode mode = Mode::Django;
    double heuristicFraction = 0.1; // http mode: of the time since Last-Modified (§4.2.2)
    Millis heuristicMax = std::chrono::hours(24); // http mode: cap of a heuristic lifetime
    bool honorClientNoCache = true; // http mode: request no-cache / max-age / Pragma obeyed
    std::string targetedField = "CDN-Cache-Control"; // http mode: RFC 9213 ("" = none)
    bool forwardTargetedField = false; // http mode: pass the targeted field on (default: used up)
    bool cacheStatusKey = false;       // Cache-Status carries key="..." (for debugging)
    std::int64_t seconds = 600;        // CACHE_MIDDLEWARE_SECONDS
    std::string keyPrefix;             // CACHE_MIDDLEWARE_KEY_PREFIX
    QueryStrings queryStrings = QueryStrings::Bypass;
    std::uint64_t memory = 64ull << 20;
    std::uint64_t maxObjectSize = 1ull << 20;
    std::string statusHeader = "X-Cache"; // empty = off
    // The longest a page is kept fresh in the store, whatever its response says (nginx's and
    // Varnish's users expect a ceiling); the response's own headers are not rewritten for it.
    Millis maxTtl = std::chrono::hours(24 * 365);
    Millis grace = 60s;         // serve stale this long after the TTL while one fetch refreshes
    Millis staleIfError = 300s; // serve stale this long after the TTL instead of an upstream error
    bool coalesce = true;       // one upstream fetch per cold/expired page; others wait for it
    Millis lockTimeout = 5s;    // a waiter gives up waiting after this and fetches itself
    unsigned lockMaxWaiters = 10000; // waiters per page beyond this fetch themselves
    Millis hitForMiss = 10s; // a page found not storable is fetched without coalescing this long
    bool storeSetCookie = false;
    bool cacheStatus = true;                // RFC 9211 Cache-Status header on responses
    std::vector<std::string> bypassPaths;   // path prefixes never cached
    std::vector<std::string> bypassCookies; // requests carrying one of these cookies are passed
    // A memcached cluster shared by several frontcache instances ("" = none): a page missing
    // here is looked for there before the upstream is asked, and every page stored here is
    // stored there too. Numeric "address:port" entries.
    std::vector<SocketAddress> sharedServers;
    Millis sharedTimeout = 100ms; // each connect / reply from the cluster
    // Warm restarts: the store is written to this file every snapshot_interval (0 = only at exit)
    // and at exit after draining, and read back at start ("" = off).
    std::string snapshot;
    Millis snapshotInterval = 300s;
    // What cannot change a page does not split it (name patterns, '*' = any run of characters).
    // Campaign parameters: out of the key and of the request sent upstream.
    std::vector<std::string> ignoreQueryParams{"utm_*",  "gclid",  "dclid",   "gbraid",
                                               "wbraid", "fbclid", "msclkid", "yclid",
                                               "mc_cid", "mc_eid", "_ga",     "_gl"};
    // Cookies set and read by browser scripts only (analytics): out of the key and the request.
    std::vector<std::string> ignoreCookies{"_ga",   "_ga_*", "_gid",   "_gat*", "_gcl_*",
                                           "_fbp",  "_fbc",  "__utm*", "_hj*",  "_clck",
                                           "_clsk", "_uet*", "ajs_*",  "mp_*",  "amplitude_*"};
    // When not empty, only these cookies count (an allow-list; the others are ignored).
    std::vector<std::string> keyCookies;
    // Codings made once per stored copy of an identity body ("br", "gzip", "zstd"; [] = none),
    // in order of preference; for these media types ('*' globs, lower case), from this size.
    std::vector<std::string> compress{"br", "gzip"};
    std::vector<std::string> compressTypes{"text/*", "application/json", "application/javascript",
                                           "application/xml", "image/svg+xml"};
    std::uint64_t compressMinSize = 256;
    // Cache groups (RFC 9875, cache/groups.h; read in config/groups.cpp): the response fields
    // groups are read from, and whether the aliases (all but Cache-Groups) reach clients.
    std::vector<std::string> groupFields{"Cache-Groups", "Surrogate-Key", "Cache-Tag", "xkey"};
    bool forwardGroupAliases = false;
};

struct MemcachedConfig {
    std::optional<SocketAddress> listen;
    // memcached.auth_file: a file of "username:password" lines (memcached's -Y format); every
    // connection must then log in first (cache/memcache/auth.h). Read when the config
    // is loaded, so on SIGHUP too: a reload picks up new users, and a bad file fails the reload
    // (the running users stay). "" = no login asked (keep the port on loopback then).
    std::string authFile;
    std::shared_ptr<const AuthUsers> authUsers; // the file's users; null when authFile is ""
};

struct AdminConfig {
    std::optional<SocketAddress> listen;
    // Client addresses (numeric, as the peer address is printed) allowed to send PURGE to the
    // public port; everyone else gets 405.
    std::vector<std::string> allowPurgeFrom;
    // Other instances' admin ports: every purge and flush accepted here is forwarded to them.
    std::vector<SocketAddress> peers;
    // A shared secret: the admin port then wants `Authorization: Bearer <token>` (all but GET
    // /health), and forwarded purges send it. "" = none (keep the admin port on loopback).
    std::string token;
};

struct LogConfig {
    using Level = common::LogLevel;
    enum class Format { Text, Json };
    Level level = Level::Info;
    std::string accessLog;        // "" = off, "-" = standard output, else a file appended to
    Format format = Format::Text; // of the access log: one text line, or one JSON object
};

// [limits]: a budget for what reaches the application (proxy/limits.h). Each real client (its
// address as trusted proxies and the PROXY protocol say; IPv6 by /64) may send `rate` misses and
// bypasses per second, `burst` at once; hits never count. Over it: a stale copy when the store
// has one, else 429 with Retry-After (mode "dry_run": only counted and logged).
struct LimitClass {
    std::string name;
    std::vector<std::string> userAgents; // '*' globs, matched in lower case; first class wins
    double rate = 0;                     // per second; 0 = unlimited
    unsigned burst = 10;
};
struct LimitsConfig {
    static constexpr std::size_t kMaxClasses = 15;
    double rate = 0; // every client not in a class; 0 = off
    unsigned burst = 20;
    bool dryRun = false;
    std::vector<std::string> allowText; // never limited (addresses and CIDR blocks)
    std::vector<AddressBlock> allow;
    std::vector<LimitClass> classes;
    bool enabled() const {
        bool any = rate > 0;
        for (const auto &c : classes)
            any = any || c.rate > 0;
        return any;
    }
};

// [[rules]] (docs/rules.md): what an operator says per route. Rules are tried in order; the first
// that matches decides, unless it says `continue`, when the later ones that match add to it (a
// later rule's action replaces an earlier one's, lists of edits add up). Matching and the
// actions: proxy/rules.h.
struct RuleField {
    std::string name; // a field name (request or response), as written
    std::string value;
};
struct Rule {
    static constexpr std::size_t kMaxRules = 64; // a request's matches are one 64-bit mask
    std::string name;
    std::string where;    // "FILE:LINE", for frontcache explain
    std::string upstream; // upstream = "NAME" of an [[upstream.groups]] ("" = unchanged)
    std::size_t pool = 0; // ... as UpstreamServer::pool
    // Match: every condition given must hold; a list holds when any of its items does. None
    // given: every request.
    std::vector<std::string> hosts;        // '*' globs, lower case, matched without the port
    std::vector<std::string> paths;        // '*' globs over the path (no query)
    std::vector<std::string> pathPrefixes; // plain prefixes of the path
    std::vector<std::string> methods;      // upper case
    std::vector<std::string> extensions;   // of the path's last segment, lower case, no '.'
    std::vector<std::string> queryParams;  // a query parameter of this name is present
    std::vector<std::string> cookies;      // a cookie of this name is present
    std::vector<std::string> headers;      // a request field of this name is present
    std::vector<RuleField> headerEquals;   // every one of these fields has this value
    bool continueAfter = false;
    // Actions.
    enum class Cache { Default, Cache, Bypass };
    Cache cache = Cache::Default;
    enum class Ttl { None, Respect, Override, Floor, Ceiling };
    Ttl ttlMode = Ttl::None; // ttl given: Respect unless ttl_mode says otherwise
    std::int64_t ttl = 0;    // seconds
    // status_ttl: a status (or a class, 1..5 for "1xx".."5xx") and its TTL in seconds; 0 = never
    // stored.
    std::vector<std::pair<int, std::int64_t>> statusTtl;
    std::optional<std::int64_t> grace, staleIfError; // seconds
    std::vector<std::string> queryAllow, queryDeny;  // name patterns; the key and the request
    bool querySort = false;
    std::vector<std::string> keyHeaders, keyCookies; // their values join the page's key
    bool stripCookies = false;                       // the request's Cookie removed
    bool stripSetCookie = false;                     // the response's Set-Cookie removed
    std::vector<RuleField> requestSet, responseSet;
    std::vector<std::string> requestRemove, responseRemove;
    // respond: a fixed answer, the upstream never asked (0 = none).
    int respondStatus = 0;
    std::string respondBody, respondType;
};

struct Config {
    std::string sourceFile;       // where it was loaded from ("" for strings)
    std::uint64_t generation = 0; // a number no other load in this process had
    ServerConfig server;
    UpstreamConfig upstream;
    CacheConfig cache;
    MemcachedConfig memcached;
    AdminConfig admin;
    LogConfig log;
    LimitsConfig limits;
    std::vector<Rule> rules;
};

// Outcome of loading: either a config, or every error found, each formatted as
// "FILE:LINE:COL: section.key: what is wrong (what was expected)".
struct LoadResult {
    std::optional<Config> config;
    std::vector<std::string> errors;
};

LoadResult loadConfigFile(const std::string &path);
// `name` is used in error messages in place of a file name.
LoadResult loadConfigString(std::string_view toml, const std::string &name = "<string>");

// What a valid config leaves open to the network, one sentence each: a memcached port beyond
// loopback (anything but 127.0.0.0/8 and ::1, so 0.0.0.0 and :: too) without auth_file, an
// admin port beyond loopback without a token. Logged at warn level at start-up and on reload,
// and printed by --check-config.
std::vector<std::string> exposureWarnings(const Config &c);

// Parses "host:port" / "[v6]:port" with a numeric host. Used for listen addresses.
Result<SocketAddress> parseSocketAddress(std::string_view text);

} // namespace fc::config
