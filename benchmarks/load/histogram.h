// Latency histogram for frontcache-bench: log-spaced buckets 2 % wide from 1 µs to 100 s, so
// any percentile read from it is within 1 % of the exact value (the bucket's geometric middle
// is reported). Fixed size, no allocation after construction; mergeable across threads.
//
// Threading: one per thread (or per interval); merge() on one thread after the others stopped.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace fc::bench {

class LatencyHistogram {
public:
    static constexpr double kMinNs = 1e3;        // 1 µs
    static constexpr double kMaxNs = 1e11;       // 100 s
    static constexpr double kRatio = 1.02;       // bucket width: <= 1 % error at the middle
    static constexpr std::size_t kBuckets = 931; // ceil(log(kMaxNs / kMinNs) / log(kRatio))

    void record(std::uint64_t ns) {
        ++counts_[index(ns)];
        ++count_;
        sum_ += static_cast<double>(ns);
        max_ = std::max(max_, ns);
        min_ = count_ == 1 ? ns : std::min(min_, ns);
    }
    void merge(const LatencyHistogram &o) {
        for (std::size_t i = 0; i < kBuckets; ++i)
            counts_[i] += o.counts_[i];
        if (o.count_) {
            min_ = count_ ? std::min(min_, o.min_) : o.min_;
            max_ = std::max(max_, o.max_);
        }
        count_ += o.count_;
        sum_ += o.sum_;
    }
    std::uint64_t count() const { return count_; }
    double meanNs() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
    std::uint64_t maxNs() const { return max_; }
    std::uint64_t minNs() const { return min_; }
    // Nearest-rank percentile (q in [0, 100]), in ns, within 1 % of the exact value.
    double percentileNs(double q) const {
        if (count_ == 0)
            return 0;
        auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen >= rank)
                return std::clamp(middle(i), static_cast<double>(min_), static_cast<double>(max_));
        }
        return static_cast<double>(max_);
    }

private:
    static std::size_t index(std::uint64_t ns) {
        double v = static_cast<double>(ns);
        if (v <= kMinNs)
            return 0;
        auto i = static_cast<std::size_t>(std::log(v / kMinNs) / std::log(kRatio));
        return std::min(i, kBuckets - 1);
    }
    static double middle(std::size_t i) {
        return kMinNs * std::pow(kRatio, static_cast<double>(i) + 0.5);
    }

    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0, max_ = 0, min_ = 0;
    double sum_ = 0;
};

} // namespace fc::bench
