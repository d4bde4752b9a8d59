// What the process asks of the system before it serves: the open-file limit, the upstream
// servers' addresses and the cache's clock (the listening sockets are io/listener.h's). Plain
// functions, each called once by one phase of Server::run (server/server.cpp).
//
// Threading: the main thread, at start-up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cache/store/clock.h"
#include "config/config.h"
#include "proxy/balancer.h"

namespace fc::server {

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the resulting soft limit.
unsigned long raiseFileLimit();

// One server's targets, appended to `out`: a host name with several addresses (a scaled service
// behind one DNS name, or "localhost" as 127.0.0.1 and ::1) becomes one target per address, as
// nginx does, so they are balanced and health-checked one by one; the display then names the
// address. False with `err` set when the name does not resolve.
// `resolver`: upstream.resolver ("" = getaddrinfo, the system's way).
bool resolveUpstream(const config::UpstreamServer &up, const std::string &resolver,
                     std::vector<proxy::UpstreamTarget> &out, std::string &err);

// The cache's clock: the system's, or for tests (FRONTCACHE_TEST_CLOCK) one that reads an offset
// from a shared file, so tests move the cache's time without sleeping.
std::unique_ptr<cache::Clock> makeClock();

} // namespace fc::server
