#include "admin/top_sampler.h"

#include <algorithm>

namespace fc::admin {

std::string TopSampler::text() {
    const std::uint64_t now = uv_now(loop_);
    lastAskMs_ = now;
    if (!timerInit_) {
        uv_timer_init(loop_, &timer_); // cannot fail
        timer_.data = this;
        timerInit_ = true;
    }
    if (!uv_is_active(reinterpret_cast<uv_handle_t *>(&timer_))) {
        for (proxy::UrlSampler *s : samplers_)
            s->active.store(true, std::memory_order_relaxed);
        lastTickMs_ = now;
        uv_timer_start(
            &timer_, [](uv_timer_t *t) noexcept { static_cast<TopSampler *>(t->data)->tick(); },
            1000, 1000);
    }
    std::uint64_t dropped = 0; // samples a full ring turned away (counted, shown here)
    for (const proxy::UrlSampler *s : samplers_)
        dropped += s->dropped.load(std::memory_order_relaxed);
    std::string out = "interval " + std::to_string(lastInterval_) + "\nstride " +
                      std::to_string(proxy::UrlSampler::kStride) + "\ndropped " +
                      std::to_string(dropped) + "\n";
    for (const auto &[n, uri] : topMisses_)
        out += "miss " + std::to_string(n) + " " + uri + "\n";
    for (const auto &[n, uri] : topHits_)
        out += "hit " + std::to_string(n) + " " + uri + "\n";
    for (const auto &[n, client] : topLimited_) // not sampled: every request over [limits]
        out += "limited " + std::to_string(n) + " " + client + "\n";
    return out;
}

// Once a second while GET /top is being asked: the samples of the second that ended become the
// top lists (ten each, most first); sampling stops 10 s after the last ask.
void TopSampler::tick() {
    const std::uint64_t now = uv_now(loop_);
    window_.clear();
    for (proxy::UrlSampler *s : samplers_)
        s->drain([&](std::string_view text, proxy::UrlSampler::Kind kind) {
            if (kind == proxy::UrlSampler::Kind::Limited) {
                ++limitedWindow_[std::string(text)];
                return;
            }
            auto &c = window_[std::string(text)];
            (kind == proxy::UrlSampler::Kind::Hit ? c.second : c.first) += 1;
        });
    lastInterval_ = static_cast<double>(now - lastTickMs_) / 1000.0;
    lastTickMs_ = now;
    auto top = [&](bool hits) {
        std::vector<std::pair<std::uint64_t, std::string>> v;
        for (const auto &[uri, c] : window_)
            if ((hits ? c.second : c.first) > 0)
                v.emplace_back(hits ? c.second : c.first, uri);
        std::sort(v.begin(), v.end(), [](const auto &a, const auto &b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        if (v.size() > 10)
            v.resize(10);
        return v;
    };
    topMisses_ = top(false);
    topHits_ = top(true);
    window_.clear();
    topLimited_.clear();
    for (const auto &[client, n] : limitedWindow_)
        topLimited_.emplace_back(n, client);
    std::sort(topLimited_.begin(), topLimited_.end(), [](const auto &a, const auto &b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    if (topLimited_.size() > 10)
        topLimited_.resize(10);
    limitedWindow_.clear();
    if (now - lastAskMs_ > 10000) { // nobody looks any more: the request path stops paying
        uv_timer_stop(&timer_);
        for (proxy::UrlSampler *s : samplers_)
            s->active.store(false, std::memory_order_relaxed);
        topMisses_.clear();
        topHits_.clear();
        topLimited_.clear();
    }
}

void TopSampler::close() {
    if (timerInit_) {
        timerInit_ = false;
        uv_close(reinterpret_cast<uv_handle_t *>(&timer_), nullptr);
    }
}

} // namespace fc::admin
