// The parser of memcached's command lines (cache/memcache/command.h): each family's typed
// command, memcached's answer to what it refuses, and the same lines through a session fed
// whole and split at every byte.
#include <doctest/doctest.h>

#include <string>

#include "cache/memcache/command.h"
#include "session_fixture.h"

using namespace fc::cache;
using namespace fc::cache::memcache;
using fc::cache::test::everySplit;
using fc::cache::test::Fixture;
using fc::cache::test::run;

namespace {

// A string literal with its NULs.
template <std::size_t N> std::string bytes(const char (&s)[N]) {
    return std::string(s, N - 1);
}

// The command parsed from `line`: valid until the next call, while `line` lives.
const Command &parsed(std::string_view line) {
    static Command c;
    parseCommand(line, c);
    return c;
}

// What the parser answers by itself ("" when noreply hides it); "<none>" when it accepts.
std::string refusal(std::string_view line) {
    Command c;
    parseCommand(line, c);
    if (c.kind() != CommandKind::Invalid)
        return "<none>";
    return std::string(c.as<Invalid>().reply);
}

} // namespace

TEST_CASE("retrieval: keys, cas, and gat's exptime") {
    Command c;
    parseCommand("gets a  b c", c);
    REQUIRE(c.kind() == CommandKind::Retrieval);
    const Retrieval &r = c.as<Retrieval>();
    CHECK(r.withCas);
    CHECK_FALSE(r.touch);
    REQUIRE(r.keys.size() == 3);
    CHECK(r.keys[1] == "b");
    parseCommand("gat \t100 k", c);
    REQUIRE(c.kind() == CommandKind::Retrieval);
    CHECK(c.as<Retrieval>().touch);
    CHECK(c.as<Retrieval>().exptime == 100);
    CHECK(c.as<Retrieval>().keys.size() == 1);
    parseCommand("gat 10", c); // no key: an empty answer, as memcached gives
    CHECK(c.as<Retrieval>().keys.empty());
    CHECK(refusal("get") == "ERROR");
    CHECK(refusal("gat abc k") == "CLIENT_ERROR invalid exptime argument");
}

TEST_CASE("storage: the numbers read with memcached's rules, noreply hiding its errors") {
    Command c;
    parseCommand("set k 4294967296 -1 3 noreply", c);
    REQUIRE(c.kind() == CommandKind::Storage);
    const Storage &s = c.as<Storage>();
    CHECK(s.mode == StoreMode::Set);
    CHECK_FALSE(s.isCas);
    CHECK(s.noreply);
    CHECK(s.flags == 0); // strtoul's value truncated to 32 bits
    CHECK(s.exptime == -1);
    CHECK(s.length == 3);
    parseCommand("cas k 0 0 1 00000000000000000000000000000000000000000000042", c);
    REQUIRE(c.kind() == CommandKind::Storage);
    CHECK(c.as<Storage>().isCas);
    CHECK(c.as<Storage>().cas == 42);
    CHECK(parsed("prepend k 0 0 1").as<Storage>().mode == StoreMode::Prepend);
    CHECK(refusal("set k 0 0") == "ERROR");
    CHECK(refusal("cas k 0 0 1") == "ERROR");
    CHECK(refusal("set k x 0 1") == "CLIENT_ERROR bad command line format");
    CHECK(refusal("set k 0 0 -1") == "CLIENT_ERROR bad command line format");
    CHECK(refusal("set k 0 0 2147483646") == "CLIENT_ERROR bad command line format");
    CHECK(refusal("set k 0 0 x noreply").empty());
    CHECK(refusal("set " + std::string(251, 'k') + " 0 0 1") ==
          "CLIENT_ERROR bad command line format");
}

TEST_CASE("delete, incr/decr, touch") {
    CHECK(parsed("delete k 0 noreply").as<Delete>().noreply);
    CHECK(refusal("delete k 5") ==
          "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
    CHECK(refusal("delete k 5 noreply").empty());
    CHECK(refusal("delete") == "ERROR");
    const Command &c = parsed("decr n \t5\tjunk");
    REQUIRE(c.kind() == CommandKind::Arithmetic);
    CHECK_FALSE(c.as<Arithmetic>().incr);
    CHECK(c.as<Arithmetic>().delta == 5);
    CHECK(parsed("incr n -18446744073709551615").as<Arithmetic>().delta == 1);
    CHECK(refusal("incr n 5x") == "CLIENT_ERROR invalid numeric delta argument");
    CHECK(refusal("incr n -1") == "CLIENT_ERROR invalid numeric delta argument");
    CHECK(refusal("incr n 0x10 noreply").empty());
    CHECK(refusal("incr n") == "ERROR");
    CHECK(parsed("touch k 100").as<Touch>().exptime == 100);
    CHECK(refusal("touch k x") == "CLIENT_ERROR invalid exptime argument");
}

TEST_CASE("the other text commands") {
    CHECK(parsed("flush_all 5 noreply").as<FlushAll>().delay == 5);
    CHECK(parsed("flush_all 5 6").as<FlushAll>().delay == 0); // memcached reads no delay
    CHECK(refusal("flush_all abc") == "CLIENT_ERROR invalid exptime argument");
    CHECK(refusal("flush_all 1 2 3") == "ERROR");
    CHECK(parsed("verbosity 7").as<Verbosity>().level == 7);
    CHECK(refusal("verbosity noreply").empty());
    CHECK(refusal("verbosity x noreply") == "CLIENT_ERROR bad command line format");
    CHECK(parsed("stats slabs").as<Stats>().group == "slabs");
    CHECK(parsed("cache_memlimit 100").as<CacheMemlimit>().megabytes == 100);
    CHECK(refusal("cache_memlimit 0") == "CLIENT_ERROR bad command line format");
    CHECK(parsed("watch mutations evictions").kind() == CommandKind::Watch);
    CHECK(refusal("watch nothing") == "ERROR");
    CHECK(parsed("version").kind() == CommandKind::Version);
    CHECK(parsed("quit").kind() == CommandKind::Quit);
    CHECK(refusal("") == "ERROR");
    CHECK(refusal("bogus") == "ERROR");
    CHECK(refusal("GET k") == "ERROR");
}

TEST_CASE("a line ends at its first NUL, as memcached's strlen-based tokenizer reads it") {
    const std::string line = bytes("get a\0b c");
    const Command &c = parsed(line);
    REQUIRE(c.kind() == CommandKind::Retrieval);
    REQUIRE(c.as<Retrieval>().keys.size() == 1);
    CHECK(c.as<Retrieval>().keys[0] == "a");
    const std::string incr = bytes("incr n 5\0x");
    CHECK(parsed(incr).as<Arithmetic>().delta == 5);
    CHECK(refusal(bytes("set k 0\0 0 1")) == "ERROR");
}

TEST_CASE("meta commands: key, flags in order, modes") {
    Command c;
    parseCommand("ms k 3 T10 F5 MA c O1 k", c);
    REQUIRE(c.kind() == CommandKind::MetaSet);
    const MetaSet &s = c.as<MetaSet>();
    CHECK(s.length == 3);
    CHECK(s.mode == StoreMode::Append);
    CHECK(s.flags.exptime == 10);
    CHECK(s.flags.clientFlags == 5);
    REQUIRE(s.flags.count == 6);
    CHECK(s.flags.order[4] == "O1");
    CHECK(s.flags.has('c'));
    parseCommand("mg a2V5 b v k", c);
    REQUIRE(c.kind() == CommandKind::MetaGet);
    CHECK(c.as<MetaGet>().key == "key");
    CHECK(c.as<MetaGet>().keyToken == "a2V5");
    CHECK(c.as<MetaGet>().flags.keyBinary);
    parseCommand("ma n MD D3 N0 J\t7", c);
    REQUIRE(c.kind() == CommandKind::MetaArithmetic);
    CHECK_FALSE(c.as<MetaArithmetic>().incr);
    CHECK(c.as<MetaArithmetic>().flags.delta == 3);
    CHECK(c.as<MetaArithmetic>().flags.initial == 7);
    CHECK(parsed("md k I q").as<MetaDelete>().flags.setStale);
    CHECK(parsed("me a2V5 b").as<MetaDebug>().key == "key");
    CHECK(parsed("mn").kind() == CommandKind::MetaNoop);
}

TEST_CASE("meta refusals in memcached's order and words") {
    CHECK(refusal("mg") == "ERROR");
    CHECK(refusal("mx k") == "ERROR");
    CHECK(refusal("mg " + std::string(251, 'k')) == "CLIENT_ERROR bad command line format");
    CHECK(refusal("mg k a b c d e f g h i j k l m n o p q r") ==
          "CLIENT_ERROR options flags are too long");
    CHECK(refusal("md k a b c d e f g h i j k l m n o p q r") ==
          "CLIENT_ERROR options flags too long");
    CHECK(refusal("mg k v v") == "CLIENT_ERROR duplicate flag");
    CHECK(refusal("mg k zz") == "CLIENT_ERROR invalid flag");
    CHECK(refusal("mg k Tx") == "CLIENT_ERROR bad token in command line format");
    CHECK(refusal("mg k Fx") == "CLIENT_ERROR bad command line format"); // F has no message
    CHECK(refusal("mg k Tx Fx") == "CLIENT_ERROR bad token in command line format");
    CHECK(refusal("mg !!!! b") == "CLIENT_ERROR error decoding key");
    CHECK(refusal("md k Z") == "CLIENT_ERROR invalid or duplicate flag");
    CHECK(refusal("md k O" + std::string(33, 'o')) == "CLIENT_ERROR opaque token too long");
    CHECK(refusal("ma n Dx") == "CLIENT_ERROR invalid or duplicate flag");
    CHECK(refusal("ma n MX") == "CLIENT_ERROR invalid mode for ma M token");
    CHECK(refusal("me") == "CLIENT_ERROR bad command line format");
    // ms: a bad length swallows nothing; a bad flag swallows the data block.
    Command c;
    parseCommand("ms k abc T1", c);
    CHECK(c.as<Invalid>().reply == "CLIENT_ERROR bad command line format");
    CHECK(c.as<Invalid>().swallow == 0);
    const std::string badMode = "ms k 3 MX O" + std::string(33, 'o');
    parseCommand(badMode, c);
    CHECK(c.as<Invalid>().reply == "CLIENT_ERROR invalid mode for ms M token");
    CHECK(c.as<Invalid>().swallow == 5);
    CHECK(refusal("ms k 3 O" + std::string(33, 'o')) == "CLIENT_ERROR opaque token too long");
    // mg's opaque is checked as the answer is written: not here.
    const std::string longOpaque = "mg k O" + std::string(33, 'o');
    CHECK(parsed(longOpaque).kind() == CommandKind::MetaGet);
}

TEST_CASE("counters that are not plain digits, through a session split at every byte") {
    // memcached's do_add_delta reads a value with safe_strtoull and rewrites it in place,
    // padded with spaces to its old length.
    CHECK(everySplit("set a 0 0 3\r\n 12\r\nincr a 1\r\nget a\r\n") ==
          "STORED\r\n13\r\nVALUE a 0 3\r\n13 \r\nEND\r\n");
    CHECK(everySplit("set a 0 0 6\r\n12\tabc\r\ndecr a 2\r\nget a\r\n") ==
          "STORED\r\n10\r\nVALUE a 0 6\r\n10    \r\nEND\r\n");
    CHECK(everySplit(bytes("set a 0 0 6\r\n12\0abc\r\nincr a 1\r\n")) == "STORED\r\n13\r\n");
    CHECK(everySplit("set a 0 0 5\r\n12abc\r\nincr a 1\r\nset b 0 0 4\r\n0x10\r\nincr b 1\r\n") ==
          "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
          "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    CHECK(everySplit("set a 0 0 21\r\n-18446744073709551615\r\nincr a 1\r\n"
                     "set b 0 0 2\r\n-5\r\nma b\r\nset c 0 0 3\r\n   \r\nincr c 1\r\n") ==
          "STORED\r\n2\r\nSTORED\r\n"
          "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nSTORED\r\n"
          "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    CHECK(everySplit("set a 0 0 20\r\n-9223372036854775809\r\nincr a 1\r\n") ==
          "STORED\r\n9223372036854775808\r\n");
    CHECK(everySplit("set a 0 0 2\r\n10\r\nincr a \t5\tx\r\nincr a "
                     "000000000000000000000000000000000000001\r\n") == "STORED\r\n15\r\n16\r\n");
}

TEST_CASE("a counter memcached would store in chunks is non-numeric") {
    // memcached splits an item over 512 KiB (its header, key and value) into chunks, and
    // do_add_delta refuses a chunked item whatever it holds.
    Fixture f;
    std::string fits = "1" + std::string(524228 - 1, ' '); // 48 + 1 + 1 + 2 + 8 + 524228
    std::string over = "1" + std::string(524229 - 1, ' ');
    CHECK(run(f.ctx, "set c 0 0 524228\r\n" + fits + "\r\nincr c 1\r\n") == "STORED\r\n2\r\n");
    CHECK(run(f.ctx, "set c 0 0 524229\r\n" + over + "\r\nincr c 1\r\nma c\r\n") ==
          "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
          "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
}
