// Every memcached command through libmemcached's C API (the client most applications use)
// against a real frontcache process's memcached port. The test starts frontcache itself
// (FRONTCACHE_BIN), reads the port from its start-up line, and stops it by PID.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <libmemcached/memcached.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace {

class Server {
public:
    Server() {
        const char *bin = std::getenv("FRONTCACHE_BIN");
        REQUIRE(bin != nullptr);
        char cfg[] = "/tmp/fc-libmc-XXXXXX";
        int fd = mkstemp(cfg);
        REQUIRE(fd >= 0);
        const char *toml = "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 2\n"
                           "[upstream]\nurl = \"http://127.0.0.1:1\"\n"
                           "[memcached]\nlisten = \"127.0.0.1:0\"\n[log]\nlevel = \"warn\"\n";
        REQUIRE(::write(fd, toml, std::strlen(toml)) == static_cast<ssize_t>(std::strlen(toml)));
        ::close(fd);
        cfgPath_ = cfg;
        int out[2];
        REQUIRE(pipe(out) == 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        char *argv[] = {const_cast<char *>(bin), const_cast<char *>("-c"), cfg, nullptr};
        REQUIRE(posix_spawn(&pid_, bin, &fa, nullptr, argv, environ) == 0);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        FILE *f = fdopen(out[0], "r");
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned p;
            if (std::sscanf(line, "frontcache listening on memcached 127.0.0.1:%u", &p) == 1) {
                port_ = static_cast<in_port_t>(p);
                break;
            }
        }
        out_ = f;
        REQUIRE(port_ != 0);
    }
    ~Server() {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
        fclose(out_);
        ::unlink(cfgPath_.c_str());
        // Runs after the test report (static destruction): an unclean exit fails the process.
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "frontcache did not exit cleanly on SIGTERM (status %d)\n",
                         status);
            std::_Exit(1);
        }
    }
    in_port_t port() const { return port_; }

private:
    pid_t pid_ = 0;
    in_port_t port_ = 0;
    FILE *out_ = nullptr;
    std::string cfgPath_;
};

Server &server() {
    static Server s;
    return s;
}

struct Client {
    memcached_st *mc;
    explicit Client(bool noreply = false) {
        mc = memcached_create(nullptr);
        memcached_server_add(mc, "127.0.0.1", server().port());
        if (noreply)
            memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
        REQUIRE(memcached_flush(mc, 0) == MEMCACHED_SUCCESS);
    }
    ~Client() { memcached_free(mc); }

    std::string get(const std::string &key, memcached_return_t *rcOut = nullptr,
                    uint32_t *flags = nullptr) {
        size_t len = 0;
        uint32_t f = 0;
        memcached_return_t rc;
        char *v = memcached_get(mc, key.data(), key.size(), &len, &f, &rc);
        if (rcOut)
            *rcOut = rc;
        if (flags)
            *flags = f;
        std::string s = v ? std::string(v, len) : "<miss>";
        std::free(v);
        return s;
    }
    memcached_return_t set(const std::string &k, const std::string &v, time_t exp = 0,
                           uint32_t flags = 0) {
        return memcached_set(mc, k.data(), k.size(), v.data(), v.size(), exp, flags);
    }
};

} // namespace

TEST_CASE("set / get / flags / version") {
    Client c;
    CHECK(c.set("alpha", "one", 0, 123) == MEMCACHED_SUCCESS);
    uint32_t flags = 0;
    CHECK(c.get("alpha", nullptr, &flags) == "one");
    CHECK(flags == 123);
    memcached_return_t rc;
    CHECK(c.get("nope", &rc) == "<miss>");
    CHECK(rc == MEMCACHED_NOTFOUND);
    CHECK(memcached_version(c.mc) == MEMCACHED_SUCCESS);
}

TEST_CASE("add / replace / append / prepend / delete") {
    Client c;
    CHECK(memcached_add(c.mc, "k", 1, "v", 1, 0, 0) == MEMCACHED_SUCCESS);
    CHECK(memcached_add(c.mc, "k", 1, "w", 1, 0, 0) == MEMCACHED_NOTSTORED);
    CHECK(memcached_replace(c.mc, "z", 1, "w", 1, 0, 0) == MEMCACHED_NOTSTORED);
    CHECK(memcached_replace(c.mc, "k", 1, "mid", 3, 0, 0) == MEMCACHED_SUCCESS);
    CHECK(memcached_append(c.mc, "k", 1, ">", 1, 0, 0) == MEMCACHED_SUCCESS);
    CHECK(memcached_prepend(c.mc, "k", 1, "<", 1, 0, 0) == MEMCACHED_SUCCESS);
    CHECK(c.get("k") == "<mid>");
    CHECK(memcached_delete(c.mc, "k", 1, 0) == MEMCACHED_SUCCESS);
    CHECK(memcached_delete(c.mc, "k", 1, 0) == MEMCACHED_NOTFOUND);
}

TEST_CASE("cas") {
    Client c;
    c.set("k", "v1");
    const char *keys[] = {"k"};
    size_t lens[] = {1};
    REQUIRE(memcached_mget(c.mc, keys, lens, 1) == MEMCACHED_SUCCESS);
    memcached_result_st *r = memcached_fetch_result(c.mc, nullptr, nullptr);
    REQUIRE(r != nullptr);
    uint64_t cas = memcached_result_cas(r);
    memcached_result_free(r);
    while (memcached_fetch_result(c.mc, nullptr, nullptr))
        ;
    CHECK(cas != 0);
    CHECK(memcached_cas(c.mc, "k", 1, "v2", 2, 0, 0, cas) == MEMCACHED_SUCCESS);
    CHECK(memcached_cas(c.mc, "k", 1, "v3", 2, 0, 0, cas) == MEMCACHED_DATA_EXISTS);
    CHECK(c.get("k") == "v2");
}

TEST_CASE("multi-get") {
    Client c;
    std::map<std::string, std::string> want;
    for (int i = 0; i < 100; ++i) {
        std::string k = "key:" + std::to_string(i), v = std::string(i * 10, 'a' + i % 26);
        REQUIRE(c.set(k, v) == MEMCACHED_SUCCESS);
        if (i % 3 == 0)
            want[k] = v;
    }
    std::vector<std::string> ks;
    for (auto &[k, v] : want)
        ks.push_back(k);
    ks.push_back("missing:1");
    std::vector<const char *> kp;
    std::vector<size_t> kl;
    for (auto &k : ks) {
        kp.push_back(k.data());
        kl.push_back(k.size());
    }
    REQUIRE(memcached_mget(c.mc, kp.data(), kl.data(), kp.size()) == MEMCACHED_SUCCESS);
    std::map<std::string, std::string> got;
    while (memcached_result_st *r = memcached_fetch_result(c.mc, nullptr, nullptr)) {
        got[std::string(memcached_result_key_value(r), memcached_result_key_length(r))] =
            std::string(memcached_result_value(r), memcached_result_length(r));
        memcached_result_free(r);
    }
    CHECK(got == want);
}

TEST_CASE("increment / decrement") {
    Client c;
    c.set("n", "10");
    uint64_t v = 0;
    CHECK(memcached_increment(c.mc, "n", 1, 5, &v) == MEMCACHED_SUCCESS);
    CHECK(v == 15);
    CHECK(memcached_decrement(c.mc, "n", 1, 100, &v) == MEMCACHED_SUCCESS);
    CHECK(v == 0);
    CHECK(memcached_increment(c.mc, "none", 4, 1, &v) == MEMCACHED_NOTFOUND);
}

TEST_CASE("touch and expiry") {
    Client c;
    c.set("t", "v", 100);
    CHECK(memcached_touch(c.mc, "t", 1, 200) == MEMCACHED_SUCCESS);
    CHECK(memcached_touch(c.mc, "none", 4, 1) == MEMCACHED_NOTFOUND);
    c.set("gone", "v", -1);
    CHECK(c.get("gone") == "<miss>");
}

TEST_CASE("large values and item_size_max") {
    Client c;
    std::string big(1000 * 1000, 'b');
    CHECK(c.set("big", big) == MEMCACHED_SUCCESS);
    CHECK(c.get("big") == big);
    std::string huge(2 * 1024 * 1024, 'h');
    CHECK(c.set("huge", huge) != MEMCACHED_SUCCESS);
    CHECK(c.set("after", "ok") == MEMCACHED_SUCCESS); // connection still usable
    CHECK(c.get("after") == "ok");
}

TEST_CASE("noreply mode") {
    Client c(true);
    CHECK(c.set("q", "quiet") == MEMCACHED_SUCCESS);
    CHECK(memcached_delete(c.mc, "q2", 2, 0) == MEMCACHED_SUCCESS);
    // With noreply, libmemcached does not wait; the set arrives before the next get.
    CHECK(c.get("q") == "quiet");
}

TEST_CASE("stats") {
    Client c;
    c.set("s", "v");
    c.get("s");
    memcached_return_t rc;
    memcached_stat_st *st = memcached_stat(c.mc, nullptr, &rc);
    REQUIRE(rc == MEMCACHED_SUCCESS);
    CHECK(st->curr_items >= 1);
    CHECK(st->get_hits >= 1);
    CHECK(st->limit_maxbytes == 64ull << 20);
    CHECK(st->threads == 2);
    memcached_stat_free(c.mc, st);
}
