// GET /metrics (Prometheus text format, version 0.0.4) and GET /stats (the same numbers as one
// JSON object): the cache counters of every worker, summed, from their one table
// (proxy/cache_counters.h), then what is not a counter there — stored variants per page, the
// upstream servers, the store, reloads, the peers, the snapshots.
//
// Threading: the main loop's thread (collect() reads the workers' counters with relaxed loads).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/context.h"

namespace fc::admin {

// One exported number. Families with labels repeat the name; HELP/TYPE are printed once, from
// the family's first sample.
struct Sample {
    std::string name;   // without the frontcache_ prefix
    std::string labels; // Prometheus form: key="value",... (empty = none)
    double value = 0;
    std::string_view type; // counter, gauge, histogram (static storage)
    std::string_view help; // static storage
};

// An integer as an integer, anything else with 6 significant digits.
std::string formatNumber(double v);

// The rows of proxy::counterRows(), summed over `all` (not empty), in the table's order;
// `outside(family)` gives the Outside rows' numbers.
void appendCounterSamples(const std::vector<const proxy::CacheCounters *> &all,
                          const std::function<double(std::string_view family)> &outside,
                          std::vector<Sample> &out);

// Every sample the admin port exports, in the order it prints them.
std::vector<Sample> collect(const AdminContext &ctx);

// Prometheus text: "# HELP"/"# TYPE" once per family, then "frontcache_NAME{LABELS} VALUE".
std::string renderPrometheus(const std::vector<Sample> &samples);
// One JSON object: "NAME_LABELVALUES": VALUE, the labels' text between their first and last
// quote appended, its characters outside [A-Za-z0-9_] written '_' ('+' of "+Inf": 'p').
std::string renderJson(const std::vector<Sample> &samples);

inline std::string renderMetrics(const AdminContext &ctx, bool json) {
    return json ? renderJson(collect(ctx)) : renderPrometheus(collect(ctx));
}

} // namespace fc::admin
