// The stored variants of pages (Vary splitting one URI into several entries): GET /variants
// lists one page's, and /metrics' page_variants histogram counts them over the whole store.
// Both are one pass over the store, one shard at a time (cache::Store::forEachLive): calls an
// operator makes, never the request path's.
//
// Threading: the main loop's thread.
#pragma once

#include <cstdint>
#include <iterator>
#include <string_view>
#include <vector>

#include "admin/reply.h"

namespace fc::cache {
class Store;
} // namespace fc::cache

namespace fc::admin {

// GET /variants?path=/x[&host=H] (percent-encoded): the stored variants of one page (every Host
// unless host= narrows it), each with its key, status, size per coding held, age, freshness and
// what separates it (cache/page/page.h's varied lines). 400 without a path.
Reply variantsReply(cache::Store &store, std::int64_t now, std::string_view query);

// Stored pages (by URI) by their number of variants: the upper bounds of the buckets, a last
// +Inf bucket implied.
inline constexpr double kVariantBounds[] = {1, 2, 3, 4, 8, 16, 64};

struct VariantCounts {
    std::vector<double> cumulative; // pages with at most kVariantBounds[b] variants (+Inf last)
    double pages = 0, variants = 0;
};

VariantCounts countVariants(cache::Store &store);

} // namespace fc::admin
