// Test helpers shared by the memcached protocol tests: a store with its protocol context, and a
// session fed a script whole or in two pieces split anywhere.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>

#include "cache/memcache/session.h"

namespace fc::cache::test {

struct Fixture {
    ManualClock clock;
    Store store{StoreConfig{}, clock};
    ProtocolContext ctx{store, clock, "1.6.18-test"};
};

// Feeds `input` to a new session (one that must log in when `users` is set) in pieces split at
// `split` (0 = whole) and returns everything answered, "<closed>" where it asked to close.
inline std::string run(ProtocolContext &ctx, const std::string &input, std::size_t split = 0,
                       std::shared_ptr<const AuthUsers> users = nullptr) {
    MemcacheSession s(ctx, std::move(users));
    std::string out, carry;
    auto feed = [&](std::string_view piece) {
        carry.append(piece);
        std::size_t consumed = 0;
        auto st = s.feed(carry.data(), carry.size(), consumed, out);
        carry.erase(0, consumed);
        if (st == MemcacheSession::Status::Close)
            out += "<closed>";
        return st;
    };
    if (split == 0 || split >= input.size()) {
        feed(input);
    } else if (feed(std::string_view(input).substr(0, split)) ==
               MemcacheSession::Status::NeedMore) {
        feed(std::string_view(input).substr(split));
    }
    return out;
}

// The answer must not depend on how the bytes were split, each run on a fresh store; returns it.
inline std::string everySplit(const std::string &input,
                              std::shared_ptr<const AuthUsers> users = nullptr) {
    Fixture whole;
    std::string expected = run(whole.ctx, input, 0, users);
    for (std::size_t i = 1; i < input.size(); ++i) {
        Fixture f;
        INFO("split at " << i);
        REQUIRE(run(f.ctx, input, i, users) == expected);
    }
    return expected;
}

} // namespace fc::cache::test
