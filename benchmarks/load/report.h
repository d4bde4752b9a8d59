// frontcache-bench's results: the summary table (printed and summary.txt), intervals.csv,
// summary.json and a self-contained report.html with SVG charts (no scripts, no network).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "benchmarks/load/engine.h"

namespace fc::bench {

struct Series {
    std::string name; // "direct", "frontcache", or the URL
    std::string url;
    RunStats stats;
};

// The side-by-side table (with ratios to the first series when there are two).
std::string summaryTable(const std::vector<Series> &series, const LoadOptions &opt);

// A text shown at the end of the report under its name (--attach FILE: a config, versions).
using Attachment = std::pair<std::string, std::string>;

// Writes summary.txt, intervals.csv, summary.json and report.html into `dir` (created).
// Returns an error message, or "" on success.
std::string writeResults(const std::string &dir, const std::vector<Series> &series,
                         const LoadOptions &opt, const std::vector<Attachment> &attachments = {});

} // namespace fc::bench
