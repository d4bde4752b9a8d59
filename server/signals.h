// The main loop's signals: SIGTERM and SIGINT stop (the workers drain; the main loop's handles
// close, so its uv_run returns once the last of them is gone), SIGHUP reloads the configuration
// (see reload in signals.cpp for how it reaches the workers), SIGUSR1 reopens the access log.
//
// Threading: the main loop's thread. Ownership: SignalState owns its four signal handles (closed
// at the stop signal); everything it points to belongs to the server (server/server.cpp) and
// outlives the main loop's run.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace fc::cache {
class FetchLocks;
class Store;
} // namespace fc::cache

namespace fc::proxy {
class HealthChecker;
class Resolver;
class Worker;
struct CacheContext;
} // namespace fc::proxy

namespace fc::fleet {
class PeerForwarder;
class SnapshotScheduler;
} // namespace fc::fleet

namespace fc::admin {
class AdminServer;
struct AdminContext;
} // namespace fc::admin

namespace fc::server {

struct SignalState {
    std::vector<std::unique_ptr<proxy::Worker>> *workers = nullptr;
    uv_signal_t term, intr, hup, usr1;
    uv_timer_t *reclaim = nullptr;
    admin::AdminServer *admin = nullptr; // null without admin.listen
    proxy::HealthChecker *health = nullptr;
    proxy::Resolver *resolver = nullptr;
    fleet::SnapshotScheduler *snapshots = nullptr; // null without cache.snapshot
    fleet::PeerForwarder *peers = nullptr;
    bool stopping = false;
    // Reload (SIGHUP).
    std::shared_ptr<const config::Config> running;
    proxy::CacheContext *cache = nullptr; // the main thread's copy (the admin port reads it)
    cache::FetchLocks *locks = nullptr;
    cache::Store *store = nullptr;
    admin::AdminContext *adminCtx = nullptr;
    std::string accessLogPath; // as opened at start-up (log.access_log is bound to it)
};

// Initialises the four handlers on `loop` and starts them; one that cannot start is said on
// stderr and the server runs without it.
void startSignals(uv_loop_t *loop, SignalState &s);

} // namespace fc::server
