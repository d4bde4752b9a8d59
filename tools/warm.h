// `frontcache warm`: fills a running frontcache before the traffic arrives. It reads URLs from
// files, standard input ("-") or sitemaps (a local file or an http:// URL; sitemap indexes are
// followed), and requests each one through frontcache's public port at a steady --rate with at
// most --concurrency connections, once per --encodings value. The requests take the normal path
// — coalesced, capped by upstream.max_connections, stored by the usual rules — so warming never
// asks more of the application than the same traffic would.
//
// Each answer is classified by frontcache's own Cache-Status field (tools/warm_tally.h): stored
// (a miss frontcache says it stored, whatever its fwd reason), already fresh (a hit), stale
// (served from the store while one background fetch renews it), revalidated, not storable (with
// the reason frontcache gave: set-cookie, private, status…), or an error by kind (HTTP 5xx,
// refused, timeout, reset). Progress goes to standard error each second, the summary to standard
// output.
//
// An https:// URL is requested with X-Forwarded-Proto: https, which frontcache believes only from
// server.trusted_proxies: list the warming host there (127.0.0.1 when run on the same machine),
// or pages of an https site are stored under http:// keys that its visitors never ask for.
//
// Threading: its own process; one blocking HttpClient on each of --concurrency threads (a tool,
// not the data path).
#pragma once

#include <string>
#include <vector>

namespace fc::tools {

struct WarmOptions {
    std::string target = "127.0.0.1:8080"; // frontcache's public port: HOST:PORT
    std::vector<std::string> sources;      // files, "-", sitemap files or http:// URLs
    double rate = 10;                      // requests per second, all connections (0 = no cap)
    unsigned concurrency = 4;
    std::vector<std::string> encodings; // Accept-Encoding values; each URL once per value
    std::string host;                   // Host for lines that are paths ("/a"), not URLs
    double timeoutSeconds = 30;
    bool quiet = false; // no progress lines
};

// Returns the exit status: 0 when every URL got an answer that is not an error, 1 when some
// failed, 2 when nothing could be read or frontcache could not be reached at all.
int runWarm(const WarmOptions &opts);

} // namespace fc::tools
