#include "proxy/health_check.h"

#include <cstring>

#include "common/log.h"
#include "proxy/one_shot.h"

namespace fc::proxy {

struct HealthChecker::Probe {
    HealthChecker *owner;
    std::size_t server;
    uv_timer_t interval;
    OneShot *inFlight = nullptr;

    void run();
};

void HealthChecker::Probe::run() {
    if (inFlight)
        return; // the previous check has not ended yet (it has its own timeout)
    const UpstreamTarget &t = owner->balancer_.target(server);
    const bool warming = owner->balancer_.phase(server) == Balancer::Phase::Warming;
    const auto &cfg = owner->cfg_;
    const std::string &host = cfg.healthCheckHost.empty() ? t.hostField : cfg.healthCheckHost;
    // Without a health check, a new address only has to accept a connection (no request).
    std::string request = cfg.healthCheck.empty()
                              ? std::string()
                              : "GET " + cfg.healthCheck + " HTTP/1.1\r\nHost: " + host +
                                    "\r\nUser-Agent: frontcache-health-check\r\nConnection: "
                                    "close\r\n\r\n";
    inFlight = startOneShot(
        owner->loop_, t, std::move(request), static_cast<std::uint64_t>(cfg.healthTimeout.count()),
        [this, warming](int status, const std::string &why) {
            inFlight = nullptr;
            // A 2xx or 3xx passes (or, with no request, the connect).
            const bool ok = status == kOneShotConnected || (status >= 200 && status < 400);
            const std::string reason =
                ok ? std::string()
                : status == 0
                    ? (why == "no answer in time" ? "no answer within health_timeout" : why)
                    : "status " + std::to_string(status);
            if (!warming) {
                owner->report(server, ok, reason);
                return;
            }
            Balancer &b = owner->balancer_;
            FC_DEBUG("first check of %s: %s%s", b.target(server).display.c_str(),
                     ok ? "ok" : "failed: ", reason.c_str());
            if (!ok || b.phase(server) != Balancer::Phase::Warming)
                return;
            b.promote(server, static_cast<std::int64_t>(uv_now(owner->loop_)));
            FC_INFO("upstream %s passed its first check: in rotation",
                    b.target(server).display.c_str());
            HealthChecker *o = owner; // this probe may be stopped by what follows
            if (o->onPromoted)
                o->onPromoted(server);
            o->sync();
        });
}

HealthChecker::HealthChecker(uv_loop_t *loop, Balancer &balancer, const config::UpstreamConfig &cfg)
    : loop_(loop), balancer_(balancer), cfg_(cfg) {}

HealthChecker::~HealthChecker() {
    close();
}

void HealthChecker::start() {
    started_ = true;
    sync();
}

void HealthChecker::sync() {
    if (!started_)
        return;
    if (probes_.size() < Balancer::kSlots)
        probes_.resize(Balancer::kSlots, nullptr);
    for (std::size_t i = 0; i < Balancer::kSlots; ++i) {
        const Balancer::Phase ph =
            i < balancer_.size() ? balancer_.phase(i) : Balancer::Phase::Empty;
        const bool warming = ph == Balancer::Phase::Warming;
        const bool wanted = warming || (ph == Balancer::Phase::Live && !cfg_.healthCheck.empty());
        if (!wanted) {
            stopProbe(i);
            continue;
        }
        if (probes_[i])
            continue;
        auto *p = new Probe{this, i, {}, nullptr};
        uv_timer_init(loop_, &p->interval);
        p->interval.data = p;
        const auto every = cfg_.healthCheck.empty() ? config::Millis(1000) : cfg_.healthInterval;
        uv_timer_start(
            &p->interval, [](uv_timer_t *t) noexcept { static_cast<Probe *>(t->data)->run(); }, 0,
            static_cast<std::uint64_t>(every.count()));
        probes_[i] = p;
    }
}

void HealthChecker::stopProbe(std::size_t i) {
    Probe *p = i < probes_.size() ? probes_[i] : nullptr;
    if (!p)
        return;
    probes_[i] = nullptr;
    if (p->inFlight) {
        cancelOneShot(p->inFlight);
        p->inFlight = nullptr;
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&p->interval),
             [](uv_handle_t *h) noexcept { delete static_cast<Probe *>(h->data); });
}

void HealthChecker::report(std::size_t server, bool ok, const std::string &why) {
    FC_DEBUG("health check of %s: %s%s%s", balancer_.target(server).display.c_str(),
             ok ? "ok" : "failed", ok ? "" : ": ", why.c_str());
    balancer_.checked(server, ok, why);
}

void HealthChecker::close() {
    for (std::size_t i = 0; i < probes_.size(); ++i)
        stopProbe(i);
    probes_.clear();
    started_ = false;
}

} // namespace fc::proxy
