// The admin port's cache groups (RFC 9875, cache/groups.h): which groups a request names, and
// GET /groups — what the group index holds. The purge by group itself is proxy::purgeGroups,
// called by the router as path purges call proxy::purge.
//
// Threading: the main loop's thread (the index locks one of its shards at a time).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admin/reply.h"

namespace fc::cache {
class GroupIndex;
} // namespace fc::cache

namespace fc::admin {

// Every group=G of `query`, percent-decoded, in order (empty values skipped).
std::vector<std::string> groupParams(std::string_view query);

// GET /groups?group=G[&group=H][&host=H]: each group's pages — their absolute URIs, each with
// its stored variants' keys (all hosts unless host= narrows it). GET /groups: the 100 (group,
// host) pairs with the most pages, and the totals. JSON.
Reply groupsReply(const cache::GroupIndex &index, std::int64_t now, std::string_view query);

} // namespace fc::admin
