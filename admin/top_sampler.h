// GET /top's sampling: the last second's most asked-for pages, by misses and by hits, from the
// workers' URL samplers (proxy/url_sampler.h). Sampling runs only while someone asks: the first
// GET /top switches the samplers on and starts a one-second timer; 10 s after the last ask the
// timer stops and the samplers are switched off, so the request path pays nothing again.
//
// Threading: the main loop's thread. Ownership: owns its timer (closed by close(), which must
// run before the loop is closed); reads the samplers, which outlive it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "proxy/url_sampler.h"

namespace fc::admin {

class TopSampler {
public:
    // `samplers`: one per worker, read each tick (the vector itself outlives this).
    TopSampler(uv_loop_t *loop, const std::vector<proxy::UrlSampler *> &samplers)
        : loop_(loop), samplers_(samplers) {}
    TopSampler(const TopSampler &) = delete;
    TopSampler &operator=(const TopSampler &) = delete;

    // The answer to GET /top (and the ask that keeps sampling on): text, one per line:
    // "interval SECONDS", "stride N", "dropped N" (samples a full ring turned away since start),
    // then "miss COUNT URI" and "hit COUNT URI", COUNT sampled, ten of each at most, and
    // "limited COUNT CLIENT CLASS": the clients over their [limits] budget, every request counted.
    std::string text();
    void close();

private:
    void tick();

    uv_loop_t *loop_;
    const std::vector<proxy::UrlSampler *> &samplers_;
    uv_timer_t timer_;
    bool timerInit_ = false;
    std::uint64_t lastAskMs_ = 0;
    std::uint64_t lastTickMs_ = 0;
    double lastInterval_ = 0;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> window_; // uri -> (miss, hit)
    std::map<std::string, std::uint64_t> limitedWindow_; // "client class" -> requests over
    std::vector<std::pair<std::uint64_t, std::string>> topMisses_, topHits_, topLimited_;
};

} // namespace fc::admin
