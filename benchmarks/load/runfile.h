// frontcache-bench run files (TOML), shaped like multi-mechanize's config:
//
//   run_time = "30s"              # per target
//   rampup = "10s"                # users start evenly over this
//   results_ts_interval = "5s"    # one row per interval per group in intervals.csv
//   threads = 1
//   rate = 0                      # > 0: open loop at this many requests/s in total
//   target = "http://127.0.0.1:8080"   # where the groups' paths are sent
//
//   [[user_group]]
//   name = "readers"
//   users = 300
//   url = "/"                     # or: urls = [{url = "/", weight = 3}, {url = "/about", weight =
//   1}] headers = ["Accept-Language: en"] think_time = "1s" timeout = "10s"
//
// Every error names file, line, column and key.
#pragma once

#include <string>
#include <vector>

#include "benchmarks/load/engine.h"

namespace fc::bench {

struct RunFile {
    LoadOptions options; // durations, threads, rate and the user groups
    std::string target;  // base URL "http://host:port" ("" = must come from the command line)
};

// Returns the errors (empty on success).
std::vector<std::string> loadRunFile(const std::string &path, RunFile &out);

} // namespace fc::bench
