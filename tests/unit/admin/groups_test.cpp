// admin/groups: the group= parameters and GET /groups' JSON.
#include <doctest/doctest.h>

#include <string>

#include "admin/groups.h"
#include "cache/groups.h"
#include "cache/page/page.h"
#include "cache/store/clock.h"

using namespace fc;

namespace {
void putPage(cache::Store &s, std::string_view key, std::string_view uri, std::string_view groups) {
    cache::PageView f;
    f.status = 200;
    f.ttl = 600;
    f.storedAt = 1'700'000'000;
    f.uri = uri;
    f.groups = groups;
    f.head = "HTTP/1.1 200 OK\r\n";
    f.body = "ok";
    cache::ItemRef it = s.allocate(key, 0, cache::Lifetime{600},
                                   static_cast<std::uint32_t>(cache::encodedPageSize(f)));
    REQUIRE(it);
    cache::encodePage(it->valueData(), f);
    s.store(cache::StoreMode::Set, it);
}
bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}
} // namespace

TEST_CASE("group= parameters: repeated, percent-decoded, empty ones skipped") {
    CHECK(admin::groupParams("group=a&soft=1&group=b%20c&group=&host=h&group=%22q%22") ==
          std::vector<std::string>{"a", "b c", "\"q\""});
    CHECK(admin::groupParams("groups=a&xgroup=b").empty());
}

TEST_CASE("GET /groups lists a group's pages by URI, or the largest groups") {
    cache::ManualClock clock;
    cache::GroupIndex index;
    cache::Store store(cache::StoreConfig{}, clock);
    store.setObserver(&index);
    putPage(store, "k1", "http://a.test/x", "news\n");
    putPage(store, "k2", "http://a.test/x", "news\n"); // a second variant of /x
    putPage(store, "k3", "http://b.test/y", "news\nsport\n");
    admin::Reply r = admin::groupsReply(index, clock.now(), "group=news");
    CHECK(r.status == 200);
    CHECK(contains(r.body, R"("group": "news", "pages": 3)"));
    CHECK(contains(
        r.body, R"({"uri": "http://a.test/x", "variants": 2, "fresh": 2, "keys": ["k1", "k2"]})"));
    CHECK(contains(r.body, R"("uri": "http://b.test/y", "variants": 1)"));
    r = admin::groupsReply(index, clock.now(), "group=news&host=b.test");
    CHECK(contains(r.body, R"("host": "b.test")"));
    CHECK(contains(r.body, R"("pages": 1)"));
    CHECK_FALSE(contains(r.body, "a.test/x"));
    r = admin::groupsReply(index, clock.now(), "");
    CHECK(contains(r.body, R"({"groups": 3, "entries": 4, "top": [)"));
    CHECK(contains(r.body, R"({"group": "news", "host": "a.test", "pages": 2})"));
}
