// What `frontcache warm` makes of each answer: stored, already fresh, stale, revalidated, not
// storable (with frontcache's reason) or an error by kind — read from the Cache-Status field the
// server wrote, through the server's own reader (proxy/cache_status.h), so the tool and the
// server cannot disagree on what "stored" means.
//
// Threading: classifyAnswer is pure; a WarmTally is shared by the connection threads (a mutex).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace fc::tools {

// (WarmTally::record counts them in this order.)
enum class WarmResult { Stored, Fresh, Stale, Revalidated, NotStorable, Error };

struct WarmOutcome {
    WarmResult result;
    std::string why; // NotStorable: frontcache's reason; Error: the kind ("HTTP 500", "refused")
};

// `status`: the answer's status; `cacheStatus`: its Cache-Status field value, every line joined
// (empty: none). A 5xx is an error; a miss is stored when frontcache says `stored`, whatever
// its `fwd` reason (uri-miss, vary-miss, stale, request).
WarmOutcome classifyAnswer(int status, std::string_view cacheStatus);

class WarmTally {
public:
    struct Counts {
        std::size_t done = 0, stored = 0, fresh = 0, stale = 0, revalidated = 0, notStorable = 0,
                    errors = 0;
        std::map<std::string, std::size_t> notStorableWhy, errorKinds;
    };

    void record(const WarmOutcome &o);
    Counts counts() const; // a copy, taken under the lock

private:
    mutable std::mutex mu_;
    Counts c_;
};

} // namespace fc::tools
