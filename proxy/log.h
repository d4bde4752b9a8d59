// Minimal leveled logging to stderr. Each line is written with one write(2) so lines from
// different worker threads never interleave. The level is process-wide and may be changed from
// any thread (relaxed atomic).
#pragma once

#include <atomic>
#include <cstdio>

#include "config/config.h"

namespace fc::proxy {

using LogLevel = config::LogConfig::Level;

void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
void logLine(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define FC_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if (::fc::proxy::logEnabled(level))                                                        \
            ::fc::proxy::logLine(level, __VA_ARGS__);                                              \
    } while (0)
#define FC_ERROR(...) FC_LOG(::fc::proxy::LogLevel::Error, __VA_ARGS__)
#define FC_WARN(...) FC_LOG(::fc::proxy::LogLevel::Warn, __VA_ARGS__)
#define FC_INFO(...) FC_LOG(::fc::proxy::LogLevel::Info, __VA_ARGS__)
#define FC_DEBUG(...) FC_LOG(::fc::proxy::LogLevel::Debug, __VA_ARGS__)

// A libuv call failed on the data path (common/failure.h): logs "what: error" at error level and
// returns `rc`, so call sites read `if (uvFailed(rc, "...") < 0) { end this connection }`.
int uvFailed(int rc, const char *what);

} // namespace fc::proxy
