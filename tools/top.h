// `frontcache top`: a live view of a running instance from its admin port (GET /metrics and
// GET /top), redrawn each second in 80x24 — requests/s by cache status, hit ratio, bytes/s from
// the store, upstream p50/p99, fetches in flight and coalesced waits, store use and evictions,
// each upstream server's state and rates, the pages most missed and most hit in the last second.
// `q` quits. With `once` (or when standard output is not a terminal) it prints one snapshot as
// text, for scripts.
//
// Threading: its own process's main thread; the tools' blocking HttpClient (a tool, not the data
// path).
#pragma once

#include <string>

namespace fc::tools {

// `admin` is "HOST:PORT" (IPv4, or "[IPv6]:PORT"); `token` is admin.token ("" = none). Returns
// the exit status.
int runTop(const std::string &admin, bool once, const std::string &token);

} // namespace fc::tools
