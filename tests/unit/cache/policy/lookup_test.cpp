#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "cache/policy/lookup.h"

#include "cache/policy/keys.h"
using namespace fc::cache;
using fc::http::HeaderList;

namespace {
// A source over a map that records what the chain asked for.
struct MapSource {
    std::map<std::string, std::string> kv;
    std::vector<std::string> asked;
    std::string stopAt; // page(...) returns true for this method
    std::optional<std::string_view> vary(std::string_view key) {
        asked.emplace_back(key);
        auto it = kv.find(std::string(key));
        if (it == kv.end())
            return std::nullopt;
        return std::string_view(it->second);
    }
    bool page(std::string_view method, std::string_view key) {
        asked.emplace_back(std::string(method) + " " + std::string(key));
        return method == stopAt;
    }
};
PolicyConfig policy() {
    PolicyConfig p;
    p.keyPrefix = "site";
    return p;
}
} // namespace

TEST_CASE("the chain: header key, then the GET page key for the Vary list") {
    const PolicyConfig p = policy();
    const std::string uri = "http://example.com/a";
    HeaderList req;
    req.add("Accept-Encoding", "gzip");
    std::string hk, gk;
    headerKey(p, uri, hk);
    pageKey(p, "GET", uri, "HTTP_ACCEPT_ENCODING", req, gk);
    MapSource src;
    src.kv[hk] = "HTTP_ACCEPT_ENCODING";
    std::string key;
    auto vary = lookupChain(p, uri, req, false, key, src);
    REQUIRE(vary);
    CHECK(*vary == "HTTP_ACCEPT_ENCODING");
    CHECK(src.asked == std::vector<std::string>{hk, "GET " + gk});
}

TEST_CASE("a HEAD request tries the GET entry first, then its own") {
    const PolicyConfig p = policy();
    const std::string uri = "http://example.com/a";
    HeaderList req;
    std::string hk, gk, headk;
    headerKey(p, uri, hk);
    pageKey(p, "GET", uri, "", req, gk);
    pageKey(p, "HEAD", uri, "", req, headk);
    MapSource src;
    src.kv[hk] = "";
    std::string key;
    lookupChain(p, uri, req, true, key, src);
    CHECK(src.asked == std::vector<std::string>{hk, "GET " + gk, "HEAD " + headk});
    // Found under GET: HEAD's own key is not asked.
    src.asked.clear();
    src.stopAt = "GET";
    lookupChain(p, uri, req, true, key, src);
    CHECK(src.asked == std::vector<std::string>{hk, "GET " + gk});
}

TEST_CASE("no header key: no page key is asked, and the coalescing key is the header key") {
    const PolicyConfig p = policy();
    const std::string uri = "http://example.com/b";
    HeaderList req;
    MapSource src;
    std::string key;
    auto vary = lookupChain(p, uri, req, true, key, src);
    CHECK_FALSE(vary);
    CHECK(src.asked.size() == 1);
    std::string lock, hk;
    coalescingKey(p, uri, vary, req, lock);
    headerKey(p, uri, hk);
    CHECK(lock == hk);
    // With a Vary list known, the coalescing key is the variant's GET page key.
    std::string gk;
    pageKey(p, "GET", uri, "HTTP_COOKIE", req, gk);
    coalescingKey(p, uri, std::string_view("HTTP_COOKIE"), req, lock);
    CHECK(lock == gk);
}
