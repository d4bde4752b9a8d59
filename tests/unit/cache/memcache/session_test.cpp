#include <doctest/doctest.h>

#include <string>

#include "cache/memcache/session.h"
#include "session_fixture.h"

using namespace fc::cache;
using namespace fc::cache::test;

TEST_CASE("storage and retrieval, split at every byte") {
    std::string out =
        everySplit("set a 5 0 3\r\nabc\r\nadd a 0 0 1\r\nx\r\nappend a 0 0 2\r\nde\r\n"
                   "get a b\r\ndelete a\r\ndelete a\r\nget a\r\n");
    CHECK(out == "STORED\r\nNOT_STORED\r\nSTORED\r\nVALUE a 5 5\r\nabcde\r\nEND\r\n"
                 "DELETED\r\nNOT_FOUND\r\nEND\r\n");
}

TEST_CASE("gets / cas round trip") {
    Fixture f;
    std::string out = run(f.ctx, "set k 0 0 1\r\na\r\ngets k\r\n");
    auto pos = out.find("VALUE k 0 1 ");
    REQUIRE(pos != std::string::npos);
    std::string cas = out.substr(pos + 12, out.find("\r\n", pos) - pos - 12);
    CHECK(run(f.ctx, "cas k 0 0 1 " + cas + "\r\nb\r\ncas k 0 0 1 " + cas + "\r\nc\r\n") ==
          "STORED\r\nEXISTS\r\n");
    CHECK(run(f.ctx, "cas nope 0 0 1 1\r\nz\r\n") == "NOT_FOUND\r\n");
}

TEST_CASE("errors worded as memcached words them") {
    CHECK(everySplit("bogus\r\n") == "ERROR\r\n");
    CHECK(everySplit("\r\n") == "ERROR\r\n");
    CHECK(everySplit("set k 0 0 2\r\nabcd\r\n") == "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    CHECK(everySplit("set k x 0 1\r\na\r\n") ==
          "CLIENT_ERROR bad command line format\r\nERROR\r\n");
    CHECK(everySplit("get " + std::string(251, 'k') + "\r\n") ==
          "CLIENT_ERROR bad command line format\r\n");
    CHECK(everySplit("incr k abc\r\n") == "CLIENT_ERROR invalid numeric delta argument\r\n");
    CHECK(everySplit("set t 0 0 1\r\nx\r\nincr t 1\r\n") ==
          "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    CHECK(everySplit("touch k x\r\n") == "CLIENT_ERROR invalid exptime argument\r\n");
    CHECK(everySplit("delete k 5\r\n") ==
          "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
    // An oversized value is swallowed and refused; the connection stays usable.
    std::string big(2 << 20, 'z');
    Fixture f;
    CHECK(run(f.ctx,
              "set big 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\nget big\r\n") ==
          "SERVER_ERROR object too large for cache\r\nEND\r\n");
}

TEST_CASE("noreply everywhere memcached accepts it") {
    CHECK(everySplit("set k 0 0 1 noreply\r\na\r\nadd k 0 0 1 noreply\r\nb\r\n"
                     "incr k 1 noreply\r\ntouch k 10 noreply\r\ndelete k noreply\r\n"
                     "flush_all noreply\r\nverbosity 1 noreply\r\nget k\r\n") == "END\r\n");
}

TEST_CASE("incr/decr and touch") {
    CHECK(everySplit("set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr x 1\r\n") ==
          "STORED\r\n15\r\n0\r\nNOT_FOUND\r\n");
    Fixture f;
    CHECK(run(f.ctx, "set k 0 10 1\r\nx\r\ntouch k 100\r\n") == "STORED\r\nTOUCHED\r\n");
    f.clock.advance(50);
    CHECK(run(f.ctx, "get k\r\n") == "VALUE k 0 1\r\nx\r\nEND\r\n");
    CHECK(run(f.ctx, "gat 1 k\r\n") == "VALUE k 0 1\r\nx\r\nEND\r\n");
    f.clock.advance(1);
    CHECK(run(f.ctx, "get k\r\n") == "END\r\n");
}

TEST_CASE("meta commands") {
    CHECK(everySplit("ms k 3 F5 T0\r\nabc\r\nmg k v f s t\r\nmg zz v\r\nmg zz v q Oab\r\nmn\r\n") ==
          "HD\r\nVA 3 f5 s3 t-1\r\nabc\r\nEN\r\nMN\r\n");
    CHECK(everySplit("mg zz v k Oab\r\nmd zz k Oz\r\nms k 2 MR\r\nxy\r\nms k 1 q\r\nz\r\n") ==
          "EN kzz Oab\r\nNF kzz Oz\r\nNS\r\n");
    CHECK(everySplit("ma c N0 J10 v\r\nma c v\r\nma c MD D3 v\r\n") ==
          "VA 2\r\n10\r\nVA 2\r\n11\r\nVA 1\r\n8\r\n");
    CHECK(everySplit("mg k v v\r\n") == "CLIENT_ERROR duplicate flag\r\n");
    CHECK(everySplit("mg k zz\r\n") == "CLIENT_ERROR invalid flag\r\n");
    CHECK(everySplit("ms k 3 MX\r\nabc\r\nmn\r\n") ==
          "CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n");
    CHECK(everySplit("ms a2V5 1 b\r\nq\r\nget key\r\nmg a2V5 b v k\r\n") ==
          "HD\r\nVALUE key 0 1\r\nq\r\nEND\r\nVA 1 ka2V5 b\r\nq\r\n");
    // Stale-while-revalidate tokens: the first fetch after md I wins, the next sees Z.
    std::string out = everySplit("set k 0 0 1\r\na\r\nmd k I\r\nmg k v\r\nmg k v\r\n");
    CHECK(out == "STORED\r\nHD\r\nVA 1 X W\r\na\r\nVA 1 Z X\r\na\r\n");
    // Vivify on miss.
    CHECK(everySplit("mg f N30 v t\r\nmg f N30 v t\r\n") == "VA 0 t30 W\r\n\r\nVA 0 t30 Z\r\n\r\n");
}

TEST_CASE("flush_all and quit") {
    CHECK(everySplit("set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\nquit\r\nget a\r\n") ==
          "STORED\r\nOK\r\nEND\r\n<closed>");
}

TEST_CASE("stats use memcached's names") {
    Fixture f;
    run(f.ctx, "set a 0 0 1\r\n1\r\nget a\r\nget b\r\n");
    std::string s = run(f.ctx, "stats\r\n");
    for (const char *name :
         {"STAT get_hits 1\r\n", "STAT get_misses 1\r\n", "STAT curr_items 1\r\n",
          "STAT total_items 1\r\n", "STAT cmd_get 2\r\n", "STAT cmd_set 1\r\n",
          "STAT limit_maxbytes 67108864\r\n", "STAT evictions 0\r\n"})
        CHECK(s.find(name) != std::string::npos);
    CHECK(s.substr(s.size() - 5) == "END\r\n");
    CHECK(run(f.ctx, "stats settings\r\n").find("STAT item_size_max 1048576\r\n") !=
          std::string::npos);
}

TEST_CASE("a line without a newline is bounded") {
    Fixture f;
    std::string junk(MemcacheSession::kMaxLine + 10, 'a');
    CHECK(run(f.ctx, junk) == "CLIENT_ERROR line too long\r\n<closed>");
}

TEST_CASE("me names an item stored under a binary key in base64, whatever the request said") {
    std::string out = everySplit("ms a2V5 1 b\r\nq\r\nme key\r\nme a2V5 b\r\n");
    CHECK(out.rfind("HD\r\nME a2V5 exp=-1 la=0 cas=", 0) == 0);
    CHECK(out.find("\r\nME a2V5 exp=-1 la=0 cas=", 4) != std::string::npos);
}

TEST_CASE(
    "ma: T and N after an opaque over 32 bytes change nothing (memcached's loop stops there)") {
    const std::string o = "O" + std::string(40, 'o');
    CHECK(everySplit("set c 0 0 1\r\n5\r\nma c " + o + " T-1\r\nmg c v\r\nma c T-1 " + o +
                     "\r\nmg c v\r\nma n N0 " + o + " N-1\r\nma n2 N-1 " + o + "\r\nmg n2 v\r\n") ==
          "STORED\r\nCLIENT_ERROR opaque token too long\r\nVA 1\r\n6\r\n"
          "CLIENT_ERROR opaque token too long\r\nEN\r\n"
          "CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR opaque token too long\r\nEN\r\n");
}
