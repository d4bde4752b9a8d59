// What [[rules]] cost a request before its lookup (proxy/rules.h): matching 20 rules — the
// benchmarks/rules20.toml list, whose last rule is the only one a page request matches — and
// what a hit then does with the match (ruleRequest, the classification). Google Benchmark;
// `build/release/benchmarks/rules_bench`. The figures are in docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "config/config.h"
#include "proxy/rules.h"

namespace {
const std::vector<fc::config::Rule> &rules20() {
    static const std::vector<fc::config::Rule> rules = [] {
        std::ifstream in(FC_RULES20);
        std::stringstream text;
        text << "[upstream]\nurl = \"http://127.0.0.1:1\"\n" << in.rdbuf();
        auto r = fc::config::loadConfigString(text.str(), "rules20.toml");
        if (!r.config)
            std::abort();
        return r.config->rules;
    }();
    return rules;
}

fc::http::RequestHead page(const char *target) {
    fc::http::RequestHead r;
    r.method = "GET";
    r.target = target;
    r.headers.add("Host", "www.example.com");
    r.headers.add("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0");
    r.headers.add("Accept", "text/html,application/xhtml+xml");
    r.headers.add("Accept-Encoding", "gzip, deflate, br");
    r.headers.add("Cookie", "_ga=GA1.2.3; csrftoken=abc");
    return r;
}

void BM_MatchNone(benchmark::State &state) { // no rule configured: the check every hit pays
    const std::vector<fc::config::Rule> none;
    const auto req = page("/page200.html");
    for (auto _ : state)
        benchmark::DoNotOptimize(fc::proxy::matchRules(none, req));
}
BENCHMARK(BM_MatchNone);

void BM_Match20(benchmark::State &state) {
    const auto req = page(state.range(0) ? "/%70age200.html" : "/page200.html");
    for (auto _ : state)
        benchmark::DoNotOptimize(fc::proxy::matchRules(rules20(), req));
}
BENCHMARK(BM_Match20)->Arg(0)->Arg(1)->ArgName("escaped");

void BM_Match20AndClassify(benchmark::State &state) { // what a hit does with the rules
    const auto req = page("/page200.html");
    fc::cache::PolicyConfig policy;
    for (auto _ : state) {
        const auto m = fc::proxy::matchRules(rules20(), req);
        const auto rr = fc::proxy::ruleRequest(rules20(), m);
        bool queryInKey = false, changed = false;
        benchmark::DoNotOptimize(
            fc::proxy::classifyWithRules(req, policy, rr, &queryInKey, &changed));
    }
}
BENCHMARK(BM_Match20AndClassify);
} // namespace

BENCHMARK_MAIN();
