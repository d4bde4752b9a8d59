// frontcache-bench's load engine: virtual users on libuv loops (one loop per thread), each a
// keep-alive HTTP/1.1 connection parsed with fc::http::ResponseParser. Closed loop (a user sends,
// waits for the answer, thinks, repeats: multi-mechanize) or open loop at a constant total rate
// (wrk2: every request has an intended send time and its latency counts from then, so a stalled
// server cannot hide its stall: no coordinated omission).
//
// Threading: run() starts the threads and returns when the run is over; snapshot() may be
// called from another thread while it runs (per-thread mutexes, held only to record).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "benchmarks/load/histogram.h"

namespace fc::bench {

struct Target {
    std::string url;  // as given
    std::string host; // for the Host header
    std::string path;
    sockaddr_storage addr{};
};

// Parses "http://host[:port]/path" (numeric or resolvable host). Empty error = ok.
std::string parseTarget(const std::string &url, Target &out);

// A group of virtual users (multi-mechanize's user_group): its own size, URLs (one picked per
// request, by weight; all on the target's host and port), headers, think time and timeout.
struct UserGroup {
    std::string name = "all";
    unsigned users = 0;
    std::vector<std::string> paths;   // request-targets, e.g. "/", "/about"
    std::vector<double> weights;      // same length as paths
    std::vector<std::string> headers; // "Name: value"
    double thinkS = 0;
    double timeoutS = 10;
};

struct LoadOptions {
    unsigned users = 100;
    double durationS = 30;
    double rampupS = 0;
    double intervalS = 5;
    unsigned threads = 1;
    double rate = 0;                  // total requests/s; 0 = closed loop
    double timeoutS = 10;             // per request
    double thinkS = 0;                // closed loop: pause between a response and the next request
    std::vector<std::string> headers; // "Name: value"
    // Empty: one group of `users` sending GET target.path with `headers`, `thinkS`, `timeoutS`.
    std::vector<UserGroup> groups;
};

enum ErrorKind { kConnect, kTimeout, kReset, kHttp4xx, kHttp5xx, kHttp504, kErrorKinds };
const char *errorName(int kind);

struct IntervalStats {
    std::uint64_t requests = 0; // completed responses (any status)
    std::uint64_t errors[kErrorKinds] = {};
    LatencyHistogram latency; // of responses counted as successes (2xx/3xx)
    std::uint64_t errorCount() const {
        std::uint64_t n = 0;
        for (auto e : errors)
            n += e;
        return n;
    }
};

struct Sample {
    float tS;        // seconds since the start of the run
    float latencyMs; // from the intended send time
    bool ok;
};

struct GroupStats {
    std::string name;
    IntervalStats total;
    std::vector<IntervalStats> intervals;
};

struct RunStats {
    double elapsedS = 0;
    IntervalStats total;
    std::vector<IntervalStats> intervals;
    std::vector<Sample> samples;    // a bounded random sample, for the scatter chart
    std::vector<GroupStats> groups; // the same, per user group
};

class LoadRun {
public:
    LoadRun(Target target, LoadOptions opt) : target_(std::move(target)), opt_(std::move(opt)) {}
    // Runs to completion. `progress` (may be null) is called about once a second from the
    // calling thread with the stats so far.
    RunStats run(void (*progress)(const RunStats &, void *), void *ctx);

private:
    Target target_;
    LoadOptions opt_;
};

} // namespace fc::bench
