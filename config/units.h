// Parsing of the human-friendly values used in the config file:
// durations ("250ms", "30s", "5m", "1h", "2d") and sizes ("512", "16KiB", "64MiB", "1GB").
// Pure functions, no allocation beyond the error text; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace fc::config {

using Millis = std::chrono::milliseconds;

// Parses "<digits>[.<digits>]<unit>" where unit is ms, s, m, h or d. A bare number is seconds.
// Negative values, overflow and unknown units are errors.
Result<Millis> parseDuration(std::string_view text);

// Parses "<digits><unit>" where unit is B, KiB, MiB, GiB (binary) or KB, MB, GB (decimal);
// a bare number is bytes. Negative values, overflow and unknown units are errors.
Result<std::uint64_t> parseSize(std::string_view text);

} // namespace fc::config
