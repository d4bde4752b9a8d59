// Warm restarts (cache.snapshot): the store written to a file — periodically on libuv's thread
// pool and once at exit after the workers drained — and read back at start before the listeners
// open. The format is cache/store/snapshot.h; this file does the file I/O and the scheduling.
//
// Writing: to "<path>.tmp.<pid>", fsync, rename over <path>, fsync the directory, so a crash or a
// full disk never leaves a half-written snapshot under the real name. The temporary file is
// created new (O_EXCL | O_NOFOLLOW: a symlink planted at its name is never followed) with mode
// 0600, which the snapshot keeps: it holds every cached page. The store is read one shard
// at a time under its lock (Store::forEachLive), so hits go on during a write.
//
// Threading: saveSnapshot and restoreSnapshot run on any thread; SnapshotScheduler lives on the
// main loop (the admin port's) and hands each periodic write to the thread pool; at most one
// write runs at a time.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "cache/store/snapshot.h"

namespace fc::fleet {

struct SnapshotResult {
    bool ok = false;
    std::string error; // why not, naming the file
    cache::SnapshotCounts counts;
    double seconds = 0;
};

// Writes every live item of `store` to `path` (atomically, see above).
SnapshotResult saveSnapshot(cache::Store &store, const std::string &path, std::int64_t now);

// Reads `path` into `store` (expected empty). A missing file is not an error (ok, nothing
// restored, error says "no snapshot"); a truncated, corrupt, empty or other-version file is
// rejected whole: the store is emptied again and the error says why.
SnapshotResult restoreSnapshot(cache::Store &store, const std::string &path, std::int64_t now);

// What /metrics shows about snapshots (written by the main loop, read by the admin port on the
// same loop).
struct SnapshotStatus {
    std::uint64_t written = 0, failed = 0;
    std::int64_t lastSuccess = 0; // Unix time
    double lastSeconds = 0;
    std::uint64_t lastItems = 0, lastBytes = 0;
    std::uint64_t restoredItems = 0;
};

class SnapshotScheduler {
public:
    // `interval` 0: no periodic writes (only at exit).
    SnapshotScheduler(uv_loop_t *loop, cache::Store &store, const cache::Clock &clock,
                      std::string path, std::chrono::milliseconds interval);
    void start();
    // Stops the timer; a write in flight finishes (the loop runs until it has).
    void stop();
    // The final write, after the workers stopped: on the calling thread, blocking.
    void writeNow();
    const SnapshotStatus &status() const { return status_; }
    SnapshotStatus &status() { return status_; }

private:
    void onTimer();
    void record(const SnapshotResult &r);
    uv_loop_t *loop_;
    cache::Store &store_;
    const cache::Clock &clock_;
    std::string path_;
    std::chrono::milliseconds interval_;
    uv_timer_t timer_;
    bool timerInit_ = false;
    uv_work_t work_;
    bool writing_ = false;
    SnapshotResult pending_;
    SnapshotStatus status_;
};

} // namespace fc::fleet
