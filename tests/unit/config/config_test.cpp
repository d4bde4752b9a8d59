#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

using namespace fc::config;

namespace {
// The single error of loading `toml`, or "" when it loads.
std::string onlyError(const std::string &toml) {
    auto r = loadConfigString(toml, "test.toml");
    if (r.config)
        return "";
    REQUIRE(r.errors.size() == 1);
    return r.errors[0];
}
bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}
} // namespace

TEST_CASE("defaults when the file is empty") {
    auto r = loadConfigString("", "empty.toml");
    REQUIRE(r.config);
    const Config &c = *r.config;
    CHECK(c.server.listen.size() == 1);
    CHECK(c.server.listen[0].text() == "127.0.0.1:8080");
    CHECK(c.server.maxHeaderSize == 16 * 1024);
    CHECK(c.server.headerTimeout == Millis(10000));
    REQUIRE(c.upstream.servers.size() == 1);
    CHECK(c.upstream.servers[0].url == "http://127.0.0.1:8000");
    CHECK(c.upstream.servers[0].port == 8000);
    CHECK(c.upstream.balance == UpstreamConfig::Balance::RoundRobin);
    CHECK(c.upstream.healthCheck.empty());
    CHECK(c.cache.seconds == 600);
    CHECK(c.cache.statusHeader == "X-Cache");
    CHECK_FALSE(c.memcached.listen);
}

TEST_CASE("a full valid config") {
    auto r = loadConfigString(R"(
[server]
listen = ["0.0.0.0:8080", "[::1]:8081"]
workers = 2
header_timeout = "5s"
idle_timeout = 30
max_header_size = "32KiB"
max_body = "10MiB"

[upstream]
url = "http://localhost:9000"
connect_timeout = "250ms"
max_connections = 8

[cache]
seconds = 60
key_prefix = "site"
query_strings = "key"
memory = "128MiB"

[memcached]
listen = "127.0.0.1:11311"

[admin]
listen = "127.0.0.1:9090"

[log]
level = "debug"
access_log = "-"
)",
                              "full.toml");
    INFO((r.errors.empty() ? "" : r.errors[0]));
    REQUIRE(r.config);
    const Config &c = *r.config;
    CHECK(c.server.listen.size() == 2);
    CHECK(c.server.listen[1].ipv6);
    CHECK(c.server.listen[1].text() == "[::1]:8081");
    CHECK(c.server.workers == 2);
    CHECK(c.server.headerTimeout == Millis(5000));
    CHECK(c.server.idleTimeout == Millis(30000));
    CHECK(c.server.maxHeaderSize == 32 * 1024);
    REQUIRE(c.upstream.servers.size() == 1);
    CHECK(c.upstream.servers[0].host == "localhost");
    CHECK(c.upstream.servers[0].port == 9000);
    CHECK(c.upstream.connectTimeout == Millis(250));
    CHECK(c.upstream.maxConnections == 8);
    CHECK(c.cache.queryStrings == CacheConfig::QueryStrings::Key);
    CHECK(c.cache.keyPrefix == "site");
    CHECK(c.memcached.listen->port == 11311);
    CHECK(c.log.level == LogConfig::Level::Debug);
    CHECK(c.log.accessLog == "-");
}

TEST_CASE("unix upstream") {
    auto r = loadConfigString("[upstream]\nurl = \"unix:/run/app.sock\"\n");
    REQUIRE(r.config);
    CHECK(r.config->upstream.servers[0].kind == UpstreamConfig::Kind::Unix);
    CHECK(r.config->upstream.servers[0].path == "/run/app.sock");
}

TEST_CASE("several upstream servers") {
    auto r = loadConfigString(R"([upstream]
servers = ["http://10.0.0.1:8000", "http://[::1]:8001", "unix:/run/app.sock"]
balance = "least_connections"
max_fails = 2
fail_timeout = "3s"
health_check = "/healthz"
health_check_host = "www.example.com"
health_interval = "1s"
health_timeout = "500ms"
)");
    INFO((r.errors.empty() ? "" : r.errors[0]));
    REQUIRE(r.config);
    const UpstreamConfig &u = r.config->upstream;
    REQUIRE(u.servers.size() == 3);
    CHECK(u.servers[0].host == "10.0.0.1");
    CHECK(u.servers[1].host == "::1");
    CHECK(u.servers[1].port == 8001);
    CHECK(u.servers[2].kind == UpstreamConfig::Kind::Unix);
    CHECK(u.balance == UpstreamConfig::Balance::LeastConnections);
    CHECK(u.maxFails == 2);
    CHECK(u.failTimeout == Millis(3000));
    CHECK(u.healthCheck == "/healthz");
    CHECK(u.healthCheckHost == "www.example.com");
    CHECK(u.healthInterval == Millis(1000));
    CHECK(u.healthTimeout == Millis(500));
    CHECK(u.describe() == "http://10.0.0.1:8000, http://[::1]:8001, unix:/run/app.sock");
}

TEST_CASE("servers with weights and backups") {
    auto r = loadConfigString(R"([upstream]
servers = [{ url = "http://a:1", weight = 3 }, "http://b:1", { url = "http://c:1", backup = true }]
)");
    INFO((r.errors.empty() ? "" : r.errors[0]));
    REQUIRE(r.config);
    const UpstreamConfig &u = r.config->upstream;
    REQUIRE(u.servers.size() == 3);
    CHECK(u.servers[0].weight == 3);
    CHECK(u.servers[1].weight == 1);
    CHECK(u.servers[2].backup);
    CHECK(u.describe() == "http://a:1 (weight 3), http://b:1, http://c:1 (backup)");
    CHECK(contains(onlyError("[upstream]\nservers = [{ url = \"http://a:1\", weight = 0 }]\n"),
                   "upstream.servers.weight: must be between 1 and 1000, got 0"));
    CHECK(contains(onlyError("[upstream]\nservers = [{ url = \"http://a:1\", wieght = 2 }]\n"),
                   "test.toml:2:34: upstream.servers: unknown key \"wieght\""));
    CHECK(contains(onlyError("[upstream]\nservers = [{ weight = 2 }]\n"),
                   "each server table needs url"));
    CHECK(contains(onlyError("[upstream]\nservers = [{ url = \"http://a:1\", backup = true }]\n"),
                   "every server is a backup"));
}

TEST_CASE("upstream server list errors") {
    CHECK(contains(onlyError("[upstream]\nservers = []\n"),
                   "test.toml:2:11: upstream.servers: expected a list of server URLs"));
    CHECK(contains(onlyError("[upstream]\nservers = [\"http://a:1\", \"ftp://b\"]\n"),
                   "test.toml:2:26: upstream.servers: expected \"http://host:port\""));
    CHECK(contains(onlyError("[upstream]\nservers = [\"http://a:1\", \"http://a:1\"]\n"),
                   "upstream.servers: \"http://a:1\" is listed twice"));
    CHECK(contains(onlyError("[upstream]\nurl = \"http://a:1\"\nservers = [\"http://b:1\"]\n"),
                   "test.toml:3:11: upstream.servers: give either upstream.url"));
    CHECK(contains(onlyError("[upstream]\nbalance = \"random\"\n"),
                   "upstream.balance: \"random\" is not one of \"round_robin\", "
                   "\"least_connections\""));
    CHECK(contains(onlyError("[upstream]\nhealth_check = \"health\"\n"),
                   "test.toml:2:16: upstream.health_check: expected a path"));
    CHECK(contains(onlyError("[upstream]\nhealth_check_host = \"a b\"\n"),
                   "upstream.health_check_host: expected a host name"));
    std::string many = "[upstream]\nservers = [";
    for (int i = 0; i < 65; ++i)
        many += (i ? ", \"http://h:" : "\"http://h:") + std::to_string(1000 + i) + "\"";
    CHECK(contains(onlyError(many + "]\n"), "upstream.servers: at most 64 servers"));
}

TEST_CASE("errors name file, line, column and key") {
    SUBCASE("unknown key") {
        auto e = onlyError("[server]\nlisten = \"127.0.0.1:1\"\nlsiten = 3\n");
        CHECK(contains(e, "test.toml:3:1: server.lsiten: unknown key"));
    }
    SUBCASE("unknown section") {
        CHECK(contains(onlyError("[srever]\nx=1\n"), "test.toml:1:2: srever: unknown section"));
    }
    SUBCASE("wrong type") {
        auto e = onlyError("[server]\nworkers = \"four\"\n");
        CHECK(contains(e, "test.toml:2:11: server.workers: expected an integer"));
    }
    SUBCASE("bad URL") {
        auto e = onlyError("[upstream]\nurl = \"ftp://x\"\n");
        CHECK(contains(e, "test.toml:2:7: upstream.url: expected \"http://host:port\""));
    }
    SUBCASE("https upstream") {
        CHECK(contains(onlyError("[upstream]\nurl = \"https://x:1\"\n"), "not supported"));
    }
    SUBCASE("port out of range") {
        auto e = onlyError("[server]\nlisten = \"127.0.0.1:70000\"\n");
        CHECK(contains(e, "test.toml:2:10: server.listen: port 70000 out of range"));
        CHECK(contains(onlyError("[upstream]\nurl = \"http://h:0\"\n"), "out of range"));
    }
    SUBCASE("negative size") {
        auto e = onlyError("[cache]\nmemory = -5\n");
        CHECK(contains(e, "test.toml:2:10: cache.memory: must not be negative"));
        CHECK(contains(onlyError("[server]\nmax_body = \"-1MiB\"\n"), "must not be negative"));
    }
    SUBCASE("bad duration") {
        auto e = onlyError("[server]\nheader_timeout = \"10 fortnights\"\n");
        CHECK(contains(e, "server.header_timeout: unknown duration unit"));
    }
    SUBCASE("zero timeout") {
        CHECK(contains(onlyError("[server]\nheader_timeout = \"0s\"\n"), "must be at least"));
    }
    SUBCASE("bad choice") {
        auto e = onlyError("[cache]\nquery_strings = \"maybe\"\n");
        CHECK(contains(e, "cache.query_strings: \"maybe\" is not one of \"bypass\", \"key\""));
    }
    SUBCASE("not an IP") {
        CHECK(contains(onlyError("[admin]\nlisten = \"localhost:9090\"\n"),
                       "is not a numeric IP address"));
    }
    SUBCASE("IPv6 without brackets") {
        CHECK(contains(onlyError("[server]\nlisten = \"::1:80\"\n"), "in brackets"));
    }
    SUBCASE("syntax error") {
        auto e = onlyError("[server]\nworkers = = 3\n");
        CHECK(contains(e, "test.toml:2:"));
        CHECK(contains(e, "syntax error"));
    }
    SUBCASE("section is not a table") {
        CHECK(contains(onlyError("server = 3\n"), "server: expected a table"));
    }
    SUBCASE("cross-field") {
        CHECK(contains(onlyError("[cache]\nmemory = \"1MiB\"\nmax_object_size = \"2MiB\"\n"),
                       "must not exceed cache.memory"));
    }
    SUBCASE("workers range") {
        CHECK(contains(onlyError("[server]\nworkers = -1\n"), "between 0 and 256"));
    }
}

TEST_CASE("every error is reported, not just the first") {
    auto r =
        loadConfigString("[server]\nworkers = \"x\"\nfoo = 1\n[upstream]\nurl = 5\n", "m.toml");
    CHECK_FALSE(r.config);
    CHECK(r.errors.size() == 3);
}

TEST_CASE("loading from a file") {
    std::string path = "/tmp/fc_config_test_" + std::to_string(::getpid()) + ".toml";
    {
        std::ofstream out(path);
        out << "[server]\nworkers = 1\nbogus = true\n";
    }
    auto r = loadConfigFile(path);
    std::remove(path.c_str());
    REQUIRE(r.errors.size() == 1);
    CHECK(contains(r.errors[0], path + ":3:1: server.bogus: unknown key"));
    auto missing = loadConfigFile("/nonexistent/frontcache.toml");
    REQUIRE(missing.errors.size() == 1);
    CHECK(contains(missing.errors[0], "cannot read config file"));
}

TEST_CASE("behind a terminator: trusted proxies, the PROXY protocol, body buffering") {
    auto r =
        loadConfigString("[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\n"
                         "proxy_protocol = true\ntemp_dir = \"/var/tmp\"\n"
                         "[upstream]\nbuffer_chunked_bodies = false\n",
                         "test.toml");
    REQUIRE(r.config);
    const Config &c = *r.config;
    CHECK(c.server.trustedProxies.size() == 3);
    CHECK(c.server.trustedProxies[1].contains("10.20.30.40"));
    CHECK(c.server.proxyProtocol);
    CHECK(c.server.tempDir == "/var/tmp");
    CHECK_FALSE(c.upstream.bufferChunkedBodies);
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK(d.config->server.trustedProxies.empty());
    CHECK_FALSE(d.config->server.proxyProtocol);
    CHECK(d.config->upstream.bufferChunkedBodies);
    auto e = onlyError("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n");
    CHECK(contains(e, "test.toml:2:19: server.trusted_proxies: \"10.0.0.0/33\" is not an address"));
    CHECK(contains(onlyError("[server]\ntrusted_proxies = [\"proxy.local\"]\n"),
                   "server.trusted_proxies"));
    CHECK(contains(onlyError("[server]\nproxy_protocol = \"yes\"\n"), "expected true or false"));
}

TEST_CASE("a fleet: snapshots, peers and the admin token") {
    auto r = loadConfigString("[cache]\nsnapshot = \"/var/lib/frontcache/store.snap\"\n"
                              "snapshot_interval = \"30s\"\n"
                              "[admin]\npeers = [\"10.0.0.2:9090\", \"[::1]:9091\"]\n"
                              "token = \"s3cr3t-token\"\n",
                              "test.toml");
    REQUIRE(r.config);
    const Config &c = *r.config;
    CHECK(c.cache.snapshot == "/var/lib/frontcache/store.snap");
    CHECK(c.cache.snapshotInterval == std::chrono::seconds(30));
    REQUIRE(c.admin.peers.size() == 2);
    CHECK(c.admin.peers[1].ipv6);
    CHECK(c.admin.peers[1].port == 9091);
    CHECK(c.admin.token == "s3cr3t-token");
    auto d = loadConfigString("[admin]\npeers = []\n", "test.toml");
    REQUIRE(d.config);
    CHECK(d.config->admin.peers.empty());
    CHECK(d.config->cache.snapshot.empty());
    CHECK(d.config->cache.snapshotInterval == std::chrono::minutes(5));
    auto bad = loadConfigString("[admin]\npeers = [\"peer.example:9090\"]\ntoken = \"has space\"\n"
                                "[cache]\nsnapshot_interval = \"soon\"\n",
                                "bad.toml");
    REQUIRE_FALSE(bad.config);
    REQUIRE(bad.errors.size() == 3);
    std::string all = bad.errors[0] + bad.errors[1] + bad.errors[2];
    CHECK(all.find("bad.toml:2:10: admin.peers") != std::string::npos);
    CHECK(all.find("bad.toml:3:9: admin.token: printable characters only") != std::string::npos);
    CHECK(all.find("bad.toml:5:21: cache.snapshot_interval") != std::string::npos);
}

TEST_CASE("compression: codings, media types, minimum size") {
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK(d.config->cache.compress == std::vector<std::string>{"br", "gzip"});
    CHECK(d.config->cache.compressTypes.front() == "text/*");
    CHECK(d.config->cache.compressMinSize == 256);
    auto r = loadConfigString("[cache]\ncompress = [\"zstd\", \"gzip\"]\n"
                              "compress_types = [\"Text/HTML\", \"application/*+json\"]\n"
                              "compress_min_size = \"1KiB\"\n",
                              "test.toml");
    REQUIRE(r.config);
    CHECK(r.config->cache.compress == std::vector<std::string>{"zstd", "gzip"});
    CHECK(r.config->cache.compressTypes ==
          std::vector<std::string>{"text/html", "application/*+json"}); // matched lower-case
    CHECK(r.config->cache.compressMinSize == 1024);
    auto off = loadConfigString("[cache]\ncompress = []\n", "test.toml");
    REQUIRE(off.config);
    CHECK(off.config->cache.compress.empty());
    CHECK(contains(onlyError("[cache]\ncompress = [\"lz4\"]\n"),
                   "test.toml:2:12: cache.compress: \"lz4\" is not a coding frontcache makes"));
    CHECK(contains(onlyError("[cache]\ncompress = [\"br\", \"br\"]\n"), "\"br\" is listed twice"));
    CHECK(contains(onlyError("[cache]\ncompress = \"br\"\n"), "cache.compress: expected a list"));
    CHECK(contains(onlyError("[cache]\ncompress_types = [\"html\"]\n"),
                   "cache.compress_types: \"html\" is not a media type"));
    CHECK(contains(onlyError("[cache]\ncompress_types = [\"text/html; charset=utf-8\"]\n"),
                   "cache.compress_types: expected media types"));
    CHECK(
        contains(onlyError("[cache]\ncompress_min_size = \"lots\"\n"), "cache.compress_min_size"));
}

namespace {
// A file under /tmp holding `text` with `mode`, removed when it goes.
struct TempFile {
    std::string path;
    TempFile(const std::string &name, const std::string &text, mode_t mode)
        : path("/tmp/fc_config_test_" + std::to_string(::getpid()) + "_" + name) {
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
    }
    ~TempFile() { std::remove(path.c_str()); }
};
std::string authConfig(const std::string &path) {
    return "[memcached]\nlisten = \"127.0.0.1:11211\"\nauth_file = \"" + path + "\"\n";
}
} // namespace

TEST_CASE("memcached.auth_file: the users are read with the config") {
    TempFile users("users", "foo:bar\nops:s3cr3t pass\n", 0600);
    auto r = loadConfigString(authConfig(users.path), "test.toml");
    REQUIRE(r.config);
    REQUIRE(r.config->memcached.authUsers);
    CHECK(r.config->memcached.authFile == users.path);
    CHECK(r.config->memcached.authUsers->size() == 2);
    CHECK(r.config->memcached.authUsers->check("ops", "s3cr3t pass"));
    TempFile group("group", "foo:bar\n", 0640); // group-readable is allowed
    CHECK(loadConfigString(authConfig(group.path), "test.toml").config);
    auto none = loadConfigString("[memcached]\nlisten = \"127.0.0.1:11211\"\n", "test.toml");
    REQUIRE(none.config);
    CHECK_FALSE(none.config->memcached.authUsers);
    auto off = loadConfigString("[memcached]\nauth_file = \"\"\n", "test.toml");
    REQUIRE(off.config);
    CHECK_FALSE(off.config->memcached.authUsers);
}

TEST_CASE("memcached.auth_file: errors name the config line and the file's") {
    TempFile badLine("badline", "foo:bar\nnocolon\n", 0600);
    CHECK(onlyError(authConfig(badLine.path)) ==
          "test.toml:3:13: memcached.auth_file: " + badLine.path +
              ":2: expected \"username:password\"");
    TempFile world("world", "foo:bar\n", 0644);
    CHECK(onlyError(authConfig(world.path)) ==
          "test.toml:3:13: memcached.auth_file: " + world.path +
              " can be read or written by other users (mode 0644): it holds passwords; chmod "
              "600 it (or 640 for a group)");
    TempFile writable("writable", "foo:bar\n", 0602);
    CHECK(contains(onlyError(authConfig(writable.path)), "(mode 0602)"));
    TempFile empty("empty", "", 0600);
    CHECK(contains(onlyError(authConfig(empty.path)), empty.path + ": no users"));
    CHECK(onlyError(authConfig("/nonexistent/users")) ==
          "test.toml:3:13: memcached.auth_file: cannot open /nonexistent/users: No such file or "
          "directory");
    CHECK(onlyError(authConfig("/tmp")) ==
          "test.toml:3:13: memcached.auth_file: /tmp is not a regular file");
    std::string fifo = "/tmp/fc_config_test_" + std::to_string(::getpid()) + "_fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(contains(onlyError(authConfig(fifo)), fifo + " is not a regular file")); // no hang
    std::remove(fifo.c_str());
    CHECK(contains(onlyError("[memcached]\nauth_file = 5\n"), "expected a string"));
}

TEST_CASE("exposure warnings: a memcached or admin port beyond loopback without a secret") {
    auto warnings = [](const std::string &toml) {
        auto r = loadConfigString(toml, "test.toml");
        REQUIRE(r.config);
        return exposureWarnings(*r.config);
    };
    for (const char *lo : {"127.0.0.1:11211", "127.1.2.3:0", "[::1]:11211", "[::ffff:127.0.0.1]:1"})
        CHECK(warnings(std::string("[memcached]\nlisten = \"") + lo + "\"\n").empty());
    CHECK(warnings("").empty());
    for (const char *open : {"0.0.0.0:11211", "[::]:11211", "10.0.0.5:11211", "[2001:db8::1]:1"}) {
        auto w = warnings(std::string("[memcached]\nlisten = \"") + open + "\"\n");
        REQUIRE(w.size() == 1);
        CHECK(w[0].rfind(std::string("memcached.listen ") + open +
                             " is not on loopback and memcached.auth_file is not set",
                         0) == 0);
    }
    TempFile users("users", "foo:bar\n", 0600);
    CHECK(warnings("[memcached]\nlisten = \"0.0.0.0:11211\"\nauth_file = \"" + users.path + "\"\n")
              .empty());
    auto admin = warnings("[admin]\nlisten = \"0.0.0.0:9090\"\n");
    REQUIRE(admin.size() == 1);
    CHECK(admin[0] == "admin.listen 0.0.0.0:9090 is not on loopback and admin.token is empty: "
                      "anyone who reaches it may purge and flush");
    CHECK(warnings("[admin]\nlisten = \"0.0.0.0:9090\"\ntoken = \"t\"\n").empty());
}

TEST_CASE("cache.max_ttl: a year by default, at least a second, at most 100 years") {
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK(d.config->cache.maxTtl == Millis(365LL * 86400 * 1000));
    auto r = loadConfigString("[cache]\nmax_ttl = \"3650d\"\n", "test.toml");
    REQUIRE(r.config);
    CHECK(r.config->cache.maxTtl == Millis(3650LL * 86400 * 1000));
    CHECK(contains(onlyError("[cache]\nmax_ttl = \"500ms\"\n"), "test.toml:2:"));
    CHECK(contains(onlyError("[cache]\nmax_ttl = \"500ms\"\n"), "cache.max_ttl"));
    CHECK(contains(onlyError("[cache]\nmax_ttl = \"36600d\"\n"), "at most 100 years"));
}

TEST_CASE("upstream.unavailable_page: read with the config, typed by its extension") {
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK_FALSE(d.config->upstream.unavailableBody); // off
    CHECK(d.config->upstream.unavailableRetryAfter == Millis(30000));
    char dir[] = "/tmp/fc-unavailable-XXXXXX";
    REQUIRE(mkdtemp(dir));
    const std::string txt = std::string(dir) + "/Down.TXT";
    { std::ofstream(txt) << "down for maintenance\n"; }
    auto r = loadConfigString("[upstream]\nunavailable_page = \"" + txt +
                                  "\"\nunavailable_retry_after = \"2m\"\n",
                              "test.toml");
    INFO((r.errors.empty() ? "" : r.errors[0]));
    REQUIRE(r.config);
    REQUIRE(r.config->upstream.unavailableBody);
    CHECK(*r.config->upstream.unavailableBody == "down for maintenance\n");
    CHECK(r.config->upstream.unavailableType == "text/plain; charset=utf-8");
    CHECK(r.config->upstream.unavailableRetryAfter == Millis(120000));
    const std::string missing =
        onlyError("[upstream]\nunavailable_page = \"" + std::string(dir) + "/nope.html\"\n");
    CHECK(contains(missing, "test.toml:2:"));
    CHECK(contains(missing, "upstream.unavailable_page"));
    CHECK(contains(missing, "nope.html"));
    CHECK(contains(onlyError("[upstream]\nunavailable_page = \"" + std::string(dir) + "\"\n"),
                   "not a regular file"));
    std::remove(txt.c_str());
    rmdir(dir);
}

TEST_CASE("WebSocket tunnels and upstream resolution: defaults, bounds, errors naming the key") {
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK(d.config->server.websockets);
    CHECK(d.config->server.tunnelIdleTimeout == Millis(300000));
    CHECK(d.config->server.maxTunnels == 4096);
    CHECK(d.config->upstream.resolver.empty()); // the system's
    CHECK(d.config->upstream.resolveMinTtl == Millis(1000));
    CHECK(d.config->upstream.resolveMaxTtl == Millis(300000));
    auto r = loadConfigString("[server]\nwebsockets = false\ntunnel_idle_timeout = \"90s\"\n"
                              "max_tunnels = 10\n[upstream]\nresolver = \"127.0.0.1:5353, ::1, "
                              "[::1]:53, 10.0.0.2\"\nresolve_min_ttl = \"5s\"\n"
                              "resolve_max_ttl = \"1m\"\n",
                              "test.toml");
    INFO((r.errors.empty() ? "" : r.errors[0]));
    REQUIRE(r.config);
    CHECK_FALSE(r.config->server.websockets);
    CHECK(r.config->server.tunnelIdleTimeout == Millis(90000));
    CHECK(r.config->server.maxTunnels == 10);
    CHECK(r.config->upstream.resolveMinTtl == Millis(5000));
    CHECK(contains(onlyError("[upstream]\nresolver = \"dns.example\"\n"), "upstream.resolver"));
    CHECK(contains(onlyError("[upstream]\nresolver = \"127.0.0.1:99999\"\n"), "test.toml:2:"));
    CHECK(contains(onlyError("[server]\nmax_tunnels = 0\n"), "server.max_tunnels"));
    // A lookup at most every second (a TTL of 0 would otherwise be a lookup per millisecond),
    // and the bounds in order whichever of them is written.
    CHECK(contains(onlyError("[upstream]\nresolve_min_ttl = \"100ms\"\n"), "resolve_min_ttl"));
    CHECK(contains(onlyError("[upstream]\nresolve_min_ttl = \"10m\"\n"), "resolve_min_ttl"));
    CHECK(contains(onlyError("[upstream]\nresolve_max_ttl = \"1s\"\nresolve_min_ttl = \"2s\"\n"),
                   "upstream.resolve_max_ttl"));
}

TEST_CASE("[limits]: off by default; rates per second, minute or hour; classes; errors") {
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK_FALSE(d.config->limits.enabled());
    auto r = loadConfigString("[limits]\nrate = 5\nburst = 30\nmode = \"dry_run\"\n"
                              "allow = [\"10.0.0.0/8\", \"::1\"]\n"
                              "[[limits.classes]]\nname = \"crawlers\"\n"
                              "user_agent = [\"*Bot*\", \"*spider*\"]\nrate = \"30/m\"\nburst = 5\n"
                              "[[limits.classes]]\nname = \"feeds\"\nuser_agent = [\"*feed*\"]\n"
                              "rate = 0.5\n",
                              "test.toml");
    INFO((r.errors.empty() ? "" : r.errors[0]));
    REQUIRE(r.config);
    const auto &l = r.config->limits;
    CHECK(l.enabled());
    CHECK(l.rate == 5);
    CHECK(l.burst == 30);
    CHECK(l.dryRun);
    CHECK(l.allow.size() == 2);
    REQUIRE(l.classes.size() == 2);
    CHECK(l.classes[0].name == "crawlers");
    CHECK(l.classes[0].userAgents[0] == "*bot*"); // matched in lower case
    CHECK(l.classes[0].rate == doctest::Approx(0.5));
    CHECK(l.classes[0].burst == 5);
    CHECK(l.classes[1].rate == doctest::Approx(0.5));
    CHECK(contains(onlyError("[limits]\nrate = \"fast\"\n"), "limits.rate"));
    CHECK(contains(onlyError("[limits]\nrate = -1\n"), "test.toml:2:"));
    CHECK(contains(onlyError("[limits]\nmode = \"block\"\n"), "limits.mode"));
    CHECK(contains(onlyError("[limits]\nrate = \"1/s\"\nburst = 100000000\n"), "limits.burst"));
    CHECK(contains(onlyError("[limits]\nrate = 0.000001\n"), "at least 1 a day"));
    CHECK(contains(onlyError("[limits]\nrate = \"1/h\"\nburst = 10000\n"), "more than a year"));
    CHECK(
        contains(onlyError("[[limits.classes]]\nname = \"x\"\nuser_agent = [\"a\"]\n"), "a rate"));
    CHECK(contains(onlyError("[limits]\nallow = [\"nobody\"]\n"), "limits.allow"));
    CHECK(contains(onlyError("[[limits.classes]]\nname = \"x\"\n"), "user_agent"));
    CHECK(contains(onlyError("[[limits.classes]]\nname = \"x\"\nuser_agent = [\"a\"]\nspeed = 1\n"),
                   "unknown key \"speed\""));
}

TEST_CASE("cache.forward_targeted_cache_control: off by default") {
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK_FALSE(d.config->cache.forwardTargetedField);
    auto r = loadConfigString("[cache]\nforward_targeted_cache_control = true\n", "test.toml");
    REQUIRE(r.config);
    CHECK(r.config->cache.forwardTargetedField);
    CHECK(contains(onlyError("[cache]\nforward_targeted_cache_control = 1\n"),
                   "cache.forward_targeted_cache_control"));
}
