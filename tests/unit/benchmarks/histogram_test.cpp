#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "benchmarks/load/histogram.h"

using fc::bench::LatencyHistogram;

namespace {
double exactPercentile(std::vector<std::uint64_t> v, double q) {
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(v.size())));
    return static_cast<double>(v[std::max<std::size_t>(rank, 1) - 1]);
}
void checkWithin1Percent(const std::vector<std::uint64_t> &values) {
    LatencyHistogram h;
    for (auto v : values)
        h.record(v);
    for (double q : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
        double exact = exactPercentile(values, q);
        double got = h.percentileNs(q);
        INFO("q=" << q << " exact=" << exact << " got=" << got);
        CHECK(std::fabs(got - exact) <= exact * 0.01 + 1e-9);
    }
}
} // namespace

TEST_CASE("percentiles within 1% of exact for known distributions, 1 us to 100 s") {
    std::mt19937_64 rng(1);
    std::vector<std::uint64_t> uniform, expo, lognormal;
    std::uniform_int_distribution<std::uint64_t> u(1000, 100'000'000'000ull);
    std::exponential_distribution<double> e(1.0 / 2e6);         // mean 2 ms
    std::lognormal_distribution<double> ln(std::log(5e5), 1.5); // heavy tail around 0.5 ms
    for (int i = 0; i < 100000; ++i) {
        uniform.push_back(u(rng));
        expo.push_back(1000 + static_cast<std::uint64_t>(e(rng)));
        lognormal.push_back(1000 + static_cast<std::uint64_t>(ln(rng)));
    }
    checkWithin1Percent(uniform);
    checkWithin1Percent(expo);
    checkWithin1Percent(lognormal);
}

TEST_CASE("merge, mean, min, max, empty") {
    LatencyHistogram a, b, all;
    for (std::uint64_t v = 1000; v < 1'000'000; v += 997) {
        (v % 2 ? a : b).record(v);
        all.record(v);
    }
    a.merge(b);
    CHECK(a.count() == all.count());
    CHECK(a.meanNs() == doctest::Approx(all.meanNs()));
    CHECK(a.maxNs() == all.maxNs());
    CHECK(a.minNs() == all.minNs());
    CHECK(a.percentileNs(50) == all.percentileNs(50));
    LatencyHistogram empty;
    CHECK(empty.percentileNs(99) == 0);
    CHECK(empty.count() == 0);
    LatencyHistogram one;
    one.record(123456);
    CHECK(one.percentileNs(50) == 123456); // clamped to the exact min/max
}
