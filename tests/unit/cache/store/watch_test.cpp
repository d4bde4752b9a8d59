#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <string>

#include "cache/store/store.h"
#include "cache/store/watch.h"

using namespace fc::cache;

namespace {
// The lines without their "ts=... gid=... " prefix.
std::vector<std::string> lines(const std::string &text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::string l = text.substr(pos, nl - pos);
        out.push_back(std::regex_replace(l, std::regex("^ts=\\d+\\.\\d+ gid=\\d+ "), ""));
        pos = nl + 1;
    }
    return out;
}
} // namespace

TEST_CASE("watch arguments as memcached takes them") {
    std::string_view none[1];
    CHECK(parseWatchArgs(none, 0) == kWatchFetchers);
    std::string_view all[] = {"fetchers", "mutations", "evictions"};
    CHECK(parseWatchArgs(all, 3) == (kWatchFetchers | kWatchMutations | kWatchEvictions));
    std::string_view other[] = {"rawcmds", "sysevents", "connevents", "proxyreqs"};
    CHECK(parseWatchArgs(other, 4) == kWatchOther);
    std::string_view bad[] = {"fetchers", "deletions"};
    CHECK(parseWatchArgs(bad, 2) == 0);
}

TEST_CASE("slab classes are memcached's defaults") {
    CHECK(slabClassOf(3, 3) == 1);        // 48+4+3+2+8 = 65 <= 96
    CHECK(slabClassOf(10, 26) == 1);      // 95
    CHECK(slabClassOf(10, 28) == 2);      // 97 > 96: 120
    CHECK(slabClassOf(6, 5000) == 19);    // 5065 <= 5680 (as memcached logged for such an item)
    CHECK(slabClassOf(10, 900000) == 39); // beyond the largest class (524288): the last
}

TEST_CASE("nothing is formatted while nobody watches; lines and skips once someone does") {
    ManualClock clock;
    StoreConfig cfg;
    cfg.shardBits = 1;
    Store s(cfg, clock);
    WatchLog &log = s.watch();
    CHECK_FALSE(log.wants(kWatchFetchers));
    s.set("a", "1", 0);
    int wakes = 0;
    auto w = log.subscribe(kWatchFetchers | kWatchMutations, [&] { ++wakes; });
    setWatchClientFd(7);
    s.set("a", "22", 100);
    s.get("b");
    s.lookup("a", Store::GetOptions{false, false}); // internal lookups are not client fetches
    s.remove("a");
    CHECK(wakes == 1); // coalesced until taken
    auto got = lines(log.take(*w));
    REQUIRE(got.size() == 4);
    CHECK(got[0] == "type=item_get key=a status=found clsid=1 cfd=7 size=1");
    CHECK(got[1] == "type=item_store key=a status=stored cmd=set ttl=100 clsid=1 cfd=7 size=2");
    CHECK(got[2] == "type=item_get key=b status=not_found clsid=0 cfd=7 size=0");
    CHECK(got[3] == "type=item_get key=a status=found clsid=1 cfd=7 size=2");
    // A watcher that does not take its lines loses the excess, counted.
    for (int i = 0; i < 20000; ++i)
        s.get("some-key-that-is-not-there");
    std::string text = log.take(*w);
    CHECK(text.size() <= WatchLog::kMaxBuffered + 64);
    CHECK(text.rfind("skipped=", 0) == 0);
    log.unsubscribe(w);
    CHECK_FALSE(log.wants(kWatchFetchers));
}

TEST_CASE("evictions are logged with fetch, ttl and last access") {
    ManualClock clock;
    StoreConfig cfg;
    cfg.shardBits = 1;
    cfg.memoryLimit = 64 * 1024;
    Store s(cfg, clock);
    auto w = s.watch().subscribe(kWatchEvictions, [] {});
    s.set("old", std::string(20000, 'x'), 500);
    clock.advance(3);
    for (int i = 0; i < 10; ++i)
        s.set("k" + std::to_string(i), std::string(20000, 'y'), 0);
    auto got = lines(s.watch().take(*w));
    REQUIRE(got.size() >= 8);
    CHECK(std::find(got.begin(), got.end(),
                    "type=eviction key=old fetch=no ttl=497 la=3 clsid=25 size=20000") !=
          got.end());
    CHECK(std::count_if(got.begin(), got.end(), [](const std::string &l) {
              return std::regex_match(l, std::regex("type=eviction key=k\\d fetch=no ttl=-1 "
                                                    "la=0 clsid=25 size=20000"));
          }) == static_cast<long>(got.size()) - 1);
    s.watch().unsubscribe(w);
}
