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
    const std::string &host =
        owner->cfg_.healthCheckHost.empty() ? t.hostField : owner->cfg_.healthCheckHost;
    inFlight = startOneShot(
        owner->loop_, t,
        "GET " + owner->cfg_.healthCheck + " HTTP/1.1\r\nHost: " + host +
            "\r\nUser-Agent: frontcache-health-check\r\nConnection: close\r\n\r\n",
        static_cast<std::uint64_t>(owner->cfg_.healthTimeout.count()),
        [this](int status, const std::string &why) {
            inFlight = nullptr;
            // A 2xx or 3xx passes.
            if (status >= 200 && status < 400)
                owner->report(server, true, "");
            else if (status == 0)
                owner->report(server, false,
                              why == "no answer in time" ? "no answer within health_timeout" : why);
            else
                owner->report(server, false, "status " + std::to_string(status));
        });
}

HealthChecker::HealthChecker(uv_loop_t *loop, Balancer &balancer, const config::UpstreamConfig &cfg)
    : loop_(loop), balancer_(balancer), cfg_(cfg) {}

HealthChecker::~HealthChecker() {
    close();
}

void HealthChecker::start() {
    if (cfg_.healthCheck.empty() || !probes_.empty())
        return;
    for (std::size_t i = 0; i < balancer_.size(); ++i) {
        auto *p = new Probe{this, i, {}, nullptr};
        uv_timer_init(loop_, &p->interval);
        p->interval.data = p;
        uv_timer_start(
            &p->interval, [](uv_timer_t *t) noexcept { static_cast<Probe *>(t->data)->run(); }, 0,
            static_cast<std::uint64_t>(cfg_.healthInterval.count()));
        probes_.push_back(p);
    }
}

void HealthChecker::report(std::size_t server, bool ok, const std::string &why) {
    FC_DEBUG("health check of %s: %s%s%s", balancer_.target(server).display.c_str(),
             ok ? "ok" : "failed", ok ? "" : ": ", why.c_str());
    balancer_.checked(server, ok, why);
}

void HealthChecker::close() {
    for (Probe *p : probes_) {
        if (p->inFlight) {
            cancelOneShot(p->inFlight);
            p->inFlight = nullptr;
        }
        uv_close(reinterpret_cast<uv_handle_t *>(&p->interval),
                 [](uv_handle_t *h) noexcept { delete static_cast<Probe *>(h->data); });
    }
    probes_.clear();
}

} // namespace fc::proxy
