// memcached's ASCII authentication (cache/memcache/auth.h) through a MemcacheSession,
// every script fed whole and split at every byte.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "cache/memcache/session.h"
#include "session_fixture.h"

using namespace fc::cache;
using fc::cache::test::Fixture;

namespace {
std::shared_ptr<const fc::AuthUsers> users() {
    auto r = fc::AuthUsers::parse("foo:bar\nbaaaz:quux\nsp:with space\n", "users.txt");
    REQUIRE(r);
    return std::make_shared<const fc::AuthUsers>(std::move(*r));
}

// A session that must log in, against users().
std::string run(ProtocolContext &ctx, const std::string &input) {
    return test::run(ctx, input, 0, users());
}
std::string everySplit(const std::string &input) {
    return test::everySplit(input, users());
}

constexpr const char *kUnauth = "CLIENT_ERROR unauthenticated\r\n";
constexpr const char *kFailure = "CLIENT_ERROR authentication failure\r\n";
} // namespace

TEST_CASE("auth: nothing works before a login, and nothing is stored or flushed") {
    Fixture f;
    f.store.set("page", "cached", 0);
    std::string out = run(f.ctx, "get page\r\nflush_all\r\ndelete page\r\nmg page v\r\n"
                                 "version\r\nstats\r\nquit\r\nwatch\r\n\r\n");
    std::string expected;
    for (int i = 0; i < 9; ++i)
        expected += kUnauth;
    CHECK(out == expected);
    // A set that is not a login is taken as one: its data block is never stored.
    CHECK(run(f.ctx, "set page 0 0 6\r\nforged\r\n") ==
          "CLIENT_ERROR bad authentication token format\r\n");
    CHECK(run(f.ctx, "set page 0 0 9\r\nfor ged!!\r\n") == kFailure);
    CHECK(run(f.ctx, "ms page 6\r\nforged\r\n") == std::string(kUnauth) + kUnauth);
    CHECK(run(f.ctx, "add page 0 0 6\r\nforged\r\n") == std::string(kUnauth) + kUnauth);
    ItemRef it = f.store.get("page");
    REQUIRE(it);
    CHECK(it->value() == "cached");
}

TEST_CASE("auth: a wrong login, then the right one, then ordinary commands; split anywhere") {
    std::string out = everySplit("get k\r\nset a 0 0 7\r\nfoo bab\r\nset foo 0 0 7\r\nfoo bar\r\n"
                                 "set toast 0 0 2\r\nhi\r\nget toast\r\nquit\r\n");
    CHECK(out == std::string(kUnauth) + kFailure +
                     "STORED\r\nSTORED\r\nVALUE toast 0 2\r\nhi\r\nEND\r\n<closed>");
    // The commands after the login may arrive with it, in the same bytes.
    CHECK(everySplit("set x 1 2 10\r\nbaaaz quux\r\nmn\r\n") == "STORED\r\nMN\r\n");
    // Key, flags, exptime and noreply of the login are ignored; a bare "\n" ends its line.
    CHECK(everySplit("set x 0 0 7 noreply\r\nfoo bar\r\nmn\r\n") == "STORED\r\nMN\r\n");
    CHECK(everySplit("set anything 99 -5 7\nfoo bar\r\nmn\r\n") == "STORED\r\nMN\r\n");
}

TEST_CASE("auth: the password is everything after the first space") {
    CHECK(everySplit("set k 0 0 13\r\nsp with space\r\nmn\r\n") == "STORED\r\nMN\r\n");
    CHECK(everySplit("set k 0 0 8\r\nfoo  bar\r\n") == kFailure); // password " bar"
    CHECK(everySplit("set k 0 0 11\r\nfoo bar baz\r\n") == kFailure);
    CHECK(everySplit("set k 0 0 7\r\nFOO bar\r\n") == kFailure);
    CHECK(everySplit("set k 0 0 4\r\n bar\r\n") == kFailure); // empty name
    CHECK(everySplit("set k 0 0 4\r\nfoo \r\n") == kFailure); // empty password
}

TEST_CASE("auth: malformed logins get memcached's errors and the connection stays") {
    CHECK(everySplit("set k 0 0 3\r\nfoo\r\n") ==
          "CLIENT_ERROR bad authentication token format\r\n");
    // The block is read whole (7 + 2 bytes) before its end is checked.
    CHECK(everySplit("set k 0 0 7\r\nfoo barXYmn\r\n") ==
          "CLIENT_ERROR bad command line termination\r\n" + std::string(kUnauth));
    // A block too large is not read: what follows is taken as commands.
    CHECK(everySplit("set k 0 0 16385\r\nfoo bar\r\n") ==
          "CLIENT_ERROR auth token too long\r\n" + std::string(kUnauth));
    CHECK(everySplit("set k 0 0 4294967296\r\n") == kUnauth); // beyond 32 bits
    CHECK(everySplit("set k 0 0 00000000007\r\nfoo bar\r\nmn\r\n") == "STORED\r\nMN\r\n");
    CHECK(everySplit("set k 0 0 000000000007\r\n") == kUnauth); // 12 characters
    CHECK(everySplit("set k 0 0 -1\r\n") == kUnauth);
    CHECK(everySplit("set k 0 0 1x\r\n") == kUnauth);
    CHECK(everySplit("set k 0 0\r\n") == kUnauth);
    CHECK(everySplit("setx k 0 0 7\r\nfoo bar\r\n") == std::string(kUnauth) + kUnauth);
    CHECK(everySplit(" set k 0 0 7\r\nfoo bar\r\nmn\r\n") == "STORED\r\nMN\r\n");
    // After every one of these a login still works on the same connection.
    CHECK(everySplit("get a\r\nset k 0 0 3\r\nfoo\r\nset k 0 0 7\r\nfoo bar\r\nmn\r\n") ==
          std::string(kUnauth) + "CLIENT_ERROR bad authentication token format\r\n"
                                 "STORED\r\nMN\r\n");
}

TEST_CASE("auth: 2048 bytes without a newline close the connection") {
    Fixture f;
    CHECK(run(f.ctx, std::string(2048, 'x')).empty()); // may still become a line
    CHECK(run(f.ctx, std::string(2049, 'x')) == "<closed>");
    CHECK(run(f.ctx, std::string(3000, 'x') + "\r\n") == kUnauth); // a long line is a line
}

TEST_CASE("auth: attempts are counted as memcached counts them") {
    Fixture f;
    run(f.ctx, "get a\r\nset k 0 0 3\r\nfoo\r\nset k 0 0 3\r\nf b\r\nset k 0 0 7\r\nfoo bar\r\n");
    std::string s = run(f.ctx, "set k 0 0 7\r\nfoo bar\r\nstats\r\n");
    // Two logins and one failure; an unauthenticated command or a malformed block is neither.
    CHECK(s.find("STAT auth_cmds 3\r\n") != std::string::npos);
    CHECK(s.find("STAT auth_errors 1\r\n") != std::string::npos);
}

TEST_CASE("auth: without users nothing is asked") {
    Fixture f;
    MemcacheSession s(f.ctx);
    std::string out;
    std::size_t consumed = 0;
    std::string in = "set k 0 0 1\r\nx\r\nget k\r\n";
    s.feed(in.data(), in.size(), consumed, out);
    CHECK(out == "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n");
}
