// The store the fuzzers run against: small (4 MiB, 64 KiB items, 4 shards) so that eviction and
// size limits are reached within one input.
#pragma once

#include "cache/store/store.h"

inline fc::cache::StoreConfig fuzzStoreConfig() {
    fc::cache::StoreConfig cfg;
    cfg.memoryLimit = 4 << 20;
    cfg.itemSizeMax = 64 * 1024;
    cfg.shardBits = 2;
    return cfg;
}
