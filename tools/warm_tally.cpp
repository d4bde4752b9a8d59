#include "tools/warm_tally.h"

#include "proxy/cache_status.h"

namespace fc::tools {

WarmOutcome classifyAnswer(int status, std::string_view cacheStatus) {
    const std::string httpStatus = "HTTP " + std::to_string(status);
    if (status >= 500)
        return {WarmResult::Error, httpStatus};
    auto r = proxy::readCacheStatus(cacheStatus);
    if (!r)
        return {WarmResult::NotStorable, cacheStatus.empty()
                                             ? "no Cache-Status field (cache.cache_status = false?)"
                                             : "no frontcache member in Cache-Status"};
    std::string why = r->detail.empty() ? httpStatus : r->detail;
    switch (proxy::statusOf(*r)) {
    case proxy::CacheStatus::Hit:
        return {WarmResult::Fresh, {}};
    case proxy::CacheStatus::StaleWhileRevalidate:
    case proxy::CacheStatus::StaleIfError:
        return {WarmResult::Stale, {}};
    case proxy::CacheStatus::Revalidated:
        return {WarmResult::Revalidated, {}};
    case proxy::CacheStatus::Miss:
        if (r->stored)
            return {WarmResult::Stored, {}};
        return {WarmResult::NotStorable, why};
    case proxy::CacheStatus::Bypass:
        return {WarmResult::NotStorable, "bypass: " + why};
    default:
        return {WarmResult::NotStorable, why};
    }
}

void WarmTally::record(const WarmOutcome &o) {
    // The count of each WarmResult, in the enum's order.
    static constexpr std::size_t Counts::*kCount[] = {
        &Counts::stored,      &Counts::fresh,       &Counts::stale,
        &Counts::revalidated, &Counts::notStorable, &Counts::errors,
    };
    std::lock_guard lock(mu_);
    ++c_.done;
    ++(c_.*kCount[static_cast<std::size_t>(o.result)]);
    if (o.result == WarmResult::NotStorable)
        ++c_.notStorableWhy[o.why];
    else if (o.result == WarmResult::Error)
        ++c_.errorKinds[o.why];
}

WarmTally::Counts WarmTally::counts() const {
    std::lock_guard lock(mu_);
    return c_;
}

} // namespace fc::tools
