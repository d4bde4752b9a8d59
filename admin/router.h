// The admin port's endpoints ([admin] listen): observability and invalidation, kept off the
// public port.
//
//   GET  /metrics   Prometheus text format (version 0.0.4)         admin/metrics.h
//   GET  /stats     the same numbers as one JSON object
//   GET  /top       the last second's most asked-for pages          admin/top_sampler.h
//   GET  /variants  one page's stored variants                      admin/variants.h
//   PURGE /PATH?Q   removes every stored variant of that page, for every Host it was stored
//                   under; `?host=H` (or a Host header other than the admin address) narrows it;
//                   `soft=1` marks them expired instead (served stale while one fetch renews)
//   POST /purge     the same for a list of paths in the body: one per line, or a JSON array
//   POST /flush     empties the cache (memcached's flush_all)
//   GET  /health    "ok"
//
// With admin.token set, every request but GET /health needs `Authorization: Bearer <token>`
// (401 otherwise). Purges and flushes are forwarded to admin.peers (fleet/peer_forward.h) unless
// they carry X-Frontcache-Forwarded (they came from a peer).
//
// Threading: the main loop's thread.
#pragma once

#include <string>

#include "admin/reply.h"
#include "http/headers.h"

namespace fc::admin {

class AdminServer;

// The answer to one complete request; `body` is the request's body (a forwarded purge's is
// split in place, proxy::takeSharedDone).
Reply route(AdminServer &server, const http::RequestHead &req, std::string &body);

} // namespace fc::admin
