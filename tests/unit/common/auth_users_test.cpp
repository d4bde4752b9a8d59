#include <doctest/doctest.h>

#include <string>

#include "common/auth_users.h"

using fc::AuthUsers;

namespace {
// The error of parsing `text` as "users.txt", or "" when it parses.
std::string parseError(const std::string &text) {
    auto r = AuthUsers::parse(text, "users.txt");
    return r ? "" : r.error();
}
} // namespace

TEST_CASE("auth file: memcached's username:password lines") {
    auto r = AuthUsers::parse("foo:bar\nbaaaz:quux\n", "users.txt");
    REQUIRE(r);
    CHECK(r->size() == 2);
    CHECK(r->check("foo", "bar"));
    CHECK(r->check("baaaz", "quux"));
    CHECK_FALSE(r->check("foo", "quux")); // one user's name with another's password
    CHECK_FALSE(r->check("foo", "ba"));
    CHECK_FALSE(r->check("foo", "barr"));
    CHECK_FALSE(r->check("fo", "bar"));
    CHECK_FALSE(r->check("", ""));
}

TEST_CASE("auth file: the password is the rest of the line") {
    auto r = AuthUsers::parse("app:pa ss:word \r\n\n\nops:x\r\n", "users.txt");
    REQUIRE(r);
    CHECK(r->size() == 2);
    CHECK(r->check("app", "pa ss:word ")); // spaces and ':' kept; "\r\n" ends the line
    CHECK(r->check("ops", "x"));
    CHECK_FALSE(r->check("app", "pa ss:word"));
    auto last = AuthUsers::parse("solo:secret", "users.txt"); // no newline at the end
    REQUIRE(last);
    CHECK(last->check("solo", "secret")); // memcached's fgets would drop the last byte
}

TEST_CASE("auth file: errors name the file and line") {
    CHECK(parseError("") == "users.txt: no users (expected \"username:password\" lines)");
    CHECK(parseError("\n\r\n") == "users.txt: no users (expected \"username:password\" lines)");
    CHECK(parseError("a:b\njust-a-name\n") == "users.txt:2: expected \"username:password\"");
    CHECK(parseError(":pw\n") == "users.txt:1: empty username");
    CHECK(parseError("a:b\n\nc:\n") == "users.txt:3: empty password for \"c\"");
    CHECK(parseError("my user:pw\n").rfind("users.txt:1: a username cannot contain spaces", 0) ==
          0);
    CHECK(parseError("u\tx:pw\n").rfind("users.txt:1: a username cannot contain", 0) == 0);
    CHECK(parseError("u:p\x01w\n") == "users.txt:1: the password of \"u\" contains a control "
                                      "character");
    CHECK(parseError(std::string("u:p\0w\n", 6)) ==
          "users.txt:1: the password of \"u\" contains a control character");
    CHECK(parseError("a:1\nb:2\na:3\n") == "users.txt:3: \"a\" is already on line 1");
    CHECK(parseError("u:" + std::string(AuthUsers::kMaxLogin, 'p') + "\n") ==
          "users.txt:1: longer than 16384 bytes: memcached clients cannot send it");
    CHECK(parseError("u:" + std::string(AuthUsers::kMaxLogin - 2, 'p') + "\n").empty());
}

TEST_CASE("constant-time comparison") {
    CHECK(fc::constantTimeEquals("secret", "secret"));
    CHECK_FALSE(fc::constantTimeEquals("secreT", "secret"));
    CHECK_FALSE(fc::constantTimeEquals("secre", "secret"));
    CHECK_FALSE(fc::constantTimeEquals("secrets", "secret"));
    CHECK_FALSE(fc::constantTimeEquals(std::string("secret\0", 7), "secret"));
    CHECK_FALSE(fc::constantTimeEquals("", "secret"));
    CHECK_FALSE(fc::constantTimeEquals("x", ""));
    CHECK(fc::constantTimeEquals("", ""));
}
