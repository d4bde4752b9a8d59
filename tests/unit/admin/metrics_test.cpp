#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "admin/metrics.h"

#include "cache/policy/request.h"
using fc::admin::appendCounterSamples;
using fc::admin::Sample;
using fc::proxy::CacheCounters;
using fc::proxy::CounterRow;
using fc::proxy::counterRows;

namespace {

std::vector<Sample> samplesOf(const std::vector<const CacheCounters *> &all) {
    std::vector<Sample> out;
    appendCounterSamples(
        all, [](std::string_view family) { return family == "fetches_in_flight" ? 7.0 : -1.0; },
        out);
    return out;
}

} // namespace

TEST_CASE("the counter table: each family's rows together, its help said once, first") {
    std::set<std::string_view> seen;
    std::string_view last;
    for (const CounterRow &r : counterRows()) {
        INFO(r.family);
        if (r.family != last) {
            CHECK(seen.insert(r.family).second); // not seen before: the family is contiguous
            CHECK_FALSE(r.help.empty());
            last = r.family;
        } else {
            CHECK(r.help.empty());
        }
        CHECK((r.type == "counter" || r.type == "gauge" || r.type == "histogram"));
        CHECK((r.kind == CounterRow::Kind::Histogram) == (r.type == "histogram"));
        CHECK(((r.type == "counter") == r.family.ends_with("_total")));
    }
}

TEST_CASE("/metrics and /stats names: one sample per row and cell, unique") {
    CacheCounters a, b;
    const std::vector<Sample> samples = samplesOf({&a, &b});
    std::set<std::string> names;
    for (const Sample &s : samples)
        CHECK(names.insert(s.name + "{" + s.labels + "}").second);
    CHECK(names.count("requests_total{cache=\"hit\"}"));
    CHECK(names.count("not_stored_total{reason=\"set-cookie\"}"));
    CHECK(names.count("upstream_errors_total{status=\"504\"}"));
    CHECK(names.count("codings_made_total{coding=\"zstd\"}"));
    CHECK(names.count("upstream_response_seconds_bucket{le=\"+Inf\"}"));
    std::set<std::string> json;
    const std::string text = fc::admin::renderJson(samples);
    for (std::size_t q = text.find("\n  \""); q != std::string::npos;
         q = text.find("\n  \"", q + 1))
        CHECK(json.insert(text.substr(q + 4, text.find('"', q + 4) - q - 4)).second);
    CHECK(json.size() == samples.size());
}

TEST_CASE("counters are summed over the sets; sums and Outside rows as the table says") {
    CacheCounters a, b;
    a.inc(a.hits, 2);
    b.inc(b.hits, 3);
    a.inc(a.staleServed);
    b.inc(b.staleOnError, 4);
    a.inc(a.bypass[static_cast<int>(fc::cache::Bypass::Method)]);
    b.inc(b.bypass[static_cast<int>(fc::cache::Bypass::Cookie)], 2);
    b.upstreamError(503);
    a.observeUpstream(3000); // 3 ms
    b.observeUpstream(20);
    const std::string text = fc::admin::renderPrometheus(samplesOf({&a, &b}));
    CHECK(text.find("# HELP frontcache_requests_total Requests answered, by cache status.\n"
                    "# TYPE frontcache_requests_total counter\n"
                    "frontcache_requests_total{cache=\"hit\"} 5\n"
                    "frontcache_requests_total{cache=\"miss\"} 0\n"
                    "frontcache_requests_total{cache=\"stale\"} 5\n") == 0);
    CHECK(text.find("frontcache_requests_total{cache=\"bypass\"} 3\n") != std::string::npos);
    CHECK(text.find("frontcache_bypass_total{reason=\"cookie\"} 2\n") != std::string::npos);
    CHECK(text.find("frontcache_stale_served_total{reason=\"error\"} 4\n") != std::string::npos);
    CHECK(text.find("frontcache_upstream_errors_total{status=\"503\"} 1\n") != std::string::npos);
    CHECK(
        text.find("# TYPE frontcache_fetches_in_flight gauge\nfrontcache_fetches_in_flight 7\n") !=
        std::string::npos);
    CHECK(text.find("frontcache_upstream_response_seconds_bucket{le=\"0.001\"} 1\n"
                    "frontcache_upstream_response_seconds_bucket{le=\"0.0025\"} 1\n"
                    "frontcache_upstream_response_seconds_bucket{le=\"0.005\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("frontcache_upstream_response_seconds_sum 0.00302\n"
                    "frontcache_upstream_response_seconds_count 2\n") != std::string::npos);
    // One HELP per family, even for families of many rows.
    CHECK(text.find("# HELP frontcache_stale_served_total") ==
          text.rfind("# HELP frontcache_stale_served_total"));
}

TEST_CASE("/stats keys: the name and the label values, as names") {
    std::vector<Sample> s = {{"a_total", "", 1, "counter", "h"},
                             {"a_total", "cache=\"not_modified\"", 2, "counter", "h"},
                             {"h_bucket", "le=\"+Inf\"", 3, "histogram", "h"},
                             {"p_total", "peer=\"1.2.3.4:9\",result=\"ok\"", 0.5, "counter", "h"}};
    CHECK(fc::admin::renderJson(s) == "{\n  \"a_total\": 1,\n  \"a_total_not_modified\": 2,\n"
                                      "  \"h_bucket_pInf\": 3,\n"
                                      "  \"p_total_1_2_3_4_9__result__ok\": 0.5\n}\n");
}
