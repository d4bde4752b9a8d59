// Store micro-benchmarks: get hit, get miss, set, set with eviction, at 64 B / 1 KiB / 16 KiB /
// 256 KiB values, on 1 and 2 threads; plus the hit ratio of S3-FIFO vs LRU on a Zipf(0.99)
// key stream with the cache holding 10 % of the key space; what the cache-group index adds to
// storing a page (cache/groups.h). No I/O.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/groups.h"
#include "cache/page/compress.h"
#include "cache/page/page.h"
#include "cache/store/store.h"

using namespace fc::cache;

namespace {
SystemClock gClock;
// As frontcache's main() does: keep large values off mmap (see server/main.cpp).
const int gMallopt = mallopt(M_MMAP_THRESHOLD, 8 << 20) + mallopt(M_TRIM_THRESHOLD, 64 << 20);

std::string keyOf(std::size_t i) {
    return "bench:key:" + std::to_string(i);
}

void putValue(Store &s, const std::string &k, std::size_t len) {
    ItemRef it = s.allocate(k, 0, 0, static_cast<std::uint32_t>(len));
    std::memset(it->valueData(), 'v', len);
    s.store(StoreMode::Set, it);
}

// One store per benchmark configuration, shared by its threads.
struct Shared {
    std::unique_ptr<Store> store;
    std::vector<std::string> keys;
};

Shared &prepare(benchmark::State &state, std::size_t nkeys, std::size_t valueLen,
                std::uint64_t memory) {
    static Shared shared;
    if (state.thread_index() == 0) {
        StoreConfig c;
        c.memoryLimit = memory;
        c.itemSizeMax = 1 << 20;
        shared.store = std::make_unique<Store>(c, gClock);
        shared.keys.clear();
        for (std::size_t i = 0; i < nkeys; ++i) {
            shared.keys.push_back(keyOf(i));
            putValue(*shared.store, shared.keys.back(), valueLen);
        }
    }
    return shared;
}
} // namespace

// The sweep every write benchmark runs: 64 B to 256 KiB values, on 1 and 2 threads.
void valueSizesOnOneAndTwoThreads(benchmark::internal::Benchmark *b) {
    for (int size : {64, 1024, 16384, 262144})
        b->Arg(size);
    b->Threads(1)->Threads(2)->UseRealTime();
}

// Args: value size, number of keys (0 = as many as fill 32 MiB, a working set far larger than
// the CPU caches; 1000 = a hot set that stays in cache).
static void BM_GetHit(benchmark::State &state) {
    const std::size_t len = static_cast<std::size_t>(state.range(0));
    const std::size_t n = state.range(1) ? static_cast<std::size_t>(state.range(1))
                                         : std::max<std::size_t>(16, (32u << 20) / (len + 100));
    Shared &sh = prepare(state, n, len, 1ull << 30);
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
    for (auto _ : state) {
        ItemRef it = sh.store->get(sh.keys[i++ % n]);
        benchmark::DoNotOptimize(it->value().data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetHit)
    ->Args({64, 0})
    ->Args({1024, 0})
    ->Args({16384, 0})
    ->Args({262144, 0})
    ->Args({64, 1000})
    ->Args({1024, 1000})
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

static void BM_GetMiss(benchmark::State &state) {
    Shared &sh = prepare(state, 1000, 64, 1ull << 30);
    std::vector<std::string> missing;
    for (int i = 0; i < 1000; ++i)
        missing.push_back("absent:" + std::to_string(i));
    std::size_t i = 0;
    for (auto _ : state) {
        ItemRef it = sh.store->get(missing[i++ % missing.size()]);
        benchmark::DoNotOptimize(it);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetMiss)->Threads(1)->Threads(2)->UseRealTime();

static void BM_Set(benchmark::State &state) {
    const std::size_t len = static_cast<std::size_t>(state.range(0));
    const std::size_t n = 4096;
    Shared &sh = prepare(state, n, len, 1ull << 30); // fits: no eviction
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
    for (auto _ : state)
        putValue(*sh.store, sh.keys[i++ % n], len);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
}
BENCHMARK(BM_Set)->Apply(valueSizesOnOneAndTwoThreads);

static void BM_SetWithEviction(benchmark::State &state) {
    const std::size_t len = static_cast<std::size_t>(state.range(0));
    Shared &sh = prepare(state, 0, len, 16ull << 20); // every set past 16 MiB evicts
    std::size_t i = static_cast<std::size_t>(state.thread_index()) << 40;
    std::string k;
    for (auto _ : state) {
        k = keyOf(i++);
        putValue(*sh.store, k, len);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["evictions"] = static_cast<double>(sh.store->stats().evictions);
}
BENCHMARK(BM_SetWithEviction)->Apply(valueSizesOnOneAndTwoThreads);

// Storing (replacing) a 1 KiB page among 4096: arg 0 without the group index, 1 with it and a
// page that has no groups (FCP3: one 4-byte check), 2 with it and a page in 4 groups (FCP4: the
// page decoded, 4 entries dropped for the page replaced and 4 added). A hit is the same lookup
// with or without the index (it never links anything): BM_GetHit.
static void BM_StorePage(benchmark::State &state) {
    ManualClock clock;
    GroupIndex index;
    StoreConfig c;
    c.memoryLimit = 1ull << 30;
    Store store(c, clock);
    if (state.range(0) > 0)
        store.setObserver(&index);
    const std::string body(1024, 'b');
    PageView f;
    f.status = 200;
    f.ttl = 600;
    f.head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n";
    f.body = body;
    if (state.range(0) == 2)
        f.groups = "article-42\ncategory-news\nauthor-7\nsite-chrome\n";
    std::vector<std::string> keys, uris;
    for (int i = 0; i < 4096; ++i) {
        keys.push_back(keyOf(static_cast<std::size_t>(i)));
        uris.push_back("http://www.example.com/articles/" + std::to_string(i));
    }
    std::size_t i = 0;
    for (auto _ : state) {
        const std::size_t k = i++ % keys.size();
        f.uri = uris[k];
        ItemRef it = store.allocate(keys[k], 0, Lifetime{600},
                                    static_cast<std::uint32_t>(encodedPageSize(f)));
        encodePage(it->valueData(), f);
        store.store(StoreMode::Set, it);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["index_entries"] = static_cast<double>(index.entries());
}
BENCHMARK(BM_StorePage)->Arg(0)->Arg(1)->Arg(2);

// Zipf(s) over n keys by inverse-CDF sampling on a precomputed table.
class Zipf {
public:
    Zipf(std::size_t n, double s, std::uint64_t seed) : cdf_(n), rng_(seed) {
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i)
            sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
        double acc = 0;
        for (std::size_t i = 0; i < n; ++i) {
            acc += 1.0 / std::pow(static_cast<double>(i + 1), s) / sum;
            cdf_[i] = acc;
        }
    }
    std::size_t next() {
        double u = std::uniform_real_distribution<double>(0, 1)(rng_);
        return static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) -
                                        cdf_.begin());
    }

private:
    std::vector<double> cdf_;
    std::mt19937_64 rng_;
};

// Read-through cache simulation: get; on a miss, set. Reports hit_ratio.
static void BM_HitRatioZipf(benchmark::State &state) {
    const auto policy = state.range(0) == 0 ? EvictionPolicy::Lru : EvictionPolicy::S3Fifo;
    const std::size_t nkeys = 200000, valueLen = 200, requests = 2000000;
    const std::size_t footprint = Store::itemFootprint(keyOf(nkeys).size(), valueLen);
    double ratio = 0;
    for (auto _ : state) {
        StoreConfig c;
        c.memoryLimit = nkeys / 10 * footprint; // 10 % of the key space
        c.policy = policy;
        Store s(c, gClock);
        Zipf z(nkeys, 0.99, 7);
        // Scramble ranks so popularity is unrelated to key order / shard.
        std::vector<std::size_t> perm(nkeys);
        for (std::size_t i = 0; i < nkeys; ++i)
            perm[i] = i;
        std::shuffle(perm.begin(), perm.end(), std::mt19937_64(11));
        std::size_t hits = 0;
        for (std::size_t r = 0; r < requests; ++r) {
            std::string k = keyOf(perm[z.next()]);
            if (s.get(k))
                ++hits;
            else
                putValue(s, k, valueLen);
        }
        ratio = static_cast<double>(hits) / static_cast<double>(requests);
    }
    state.counters["hit_ratio"] = ratio;
    state.SetLabel(policy == EvictionPolicy::Lru ? "LRU" : "S3-FIFO");
}
BENCHMARK(BM_HitRatioZipf)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

// Codings of a stored copy (#13): what making one costs, by coding and body size, on HTML-like
// text (markup repeated, words from a small vocabulary; gzip makes it about a fifth). PageFill
// makes them on the loop up to kInlineCodingBytes (16 KiB) and on the thread pool above.
static std::string htmlLike(std::size_t size) {
    static const char *words[] = {"the",    "of",   "and",   "page", "cache", "news",  "article",
                                  "people", "time", "state", "good", "first", "years", "way"};
    std::mt19937 rng(28);
    std::string s = "<!doctype html><html><body><main class=\"content\">";
    while (s.size() < size) {
        s += "<article class=\"teaser\"><a href=\"/news/2026/11/";
        s += std::to_string(rng() % 100000);
        s += "/\"><img src=\"/media/thumbs/1.jpg\" loading=\"lazy\"></a><p class=\"text\">";
        for (int i = 0; i < 25; ++i) {
            s += words[rng() % 14];
            s += ' ';
        }
        s += "</p></article>\n";
    }
    s.resize(size);
    return s;
}

static void BM_Codings(benchmark::State &state) {
    const auto coding = static_cast<fc::http::Coding>(state.range(0));
    const std::string body = htmlLike(static_cast<std::size_t>(state.range(1)));
    std::string out;
    for (auto _ : state) {
        fc::cache::encodeBody(coding, body, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(fc::http::codingName(coding)) + " " +
                   std::to_string(body.size() / 1024) + " KiB -> " +
                   std::to_string(out.size() * 100 / body.size()) + "%");
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Codings)
    ->ArgsProduct({{1, 2, 3}, {4096, 16384, 65536, 262144}})
    ->Unit(benchmark::kMicrosecond);

static void BM_DecodeGzip(benchmark::State &state) {
    const std::string body = htmlLike(static_cast<std::size_t>(state.range(0)));
    std::string gz, out;
    fc::cache::encodeBody(fc::http::Coding::Gzip, body, gz);
    for (auto _ : state) {
        fc::cache::decodeBody(fc::http::Coding::Gzip, gz, body.size(), out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DecodeGzip)->Arg(16384)->Arg(262144)->Unit(benchmark::kMicrosecond);

// The per-hit cost of choosing among a page's representations (Chrome's Accept-Encoding).
static void BM_ChooseRepresentation(benchmark::State &state) {
    fc::cache::PageView p;
    p.repCount = 3;
    p.reps[0] = {fc::http::Coding::Identity, "h", std::string_view("0123456789")};
    p.reps[1] = {fc::http::Coding::Br, "h", std::string_view("012")};
    p.reps[2] = {fc::http::Coding::Gzip, "h", std::string_view("01234")};
    std::optional<std::string_view> ae("gzip, deflate, br, zstd");
    for (auto _ : state)
        benchmark::DoNotOptimize(fc::cache::chooseRepresentation(p, ae));
}
BENCHMARK(BM_ChooseRepresentation);

BENCHMARK_MAIN();
