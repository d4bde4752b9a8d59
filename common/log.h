// Leveled logging to stderr, for every layer. Each line is written with one write(2) so lines
// from different worker threads never interleave. The level is process-wide and may be changed
// from any thread (relaxed atomic); config's log.level is this type.
#pragma once

#include <atomic>
#include <cstdio>

namespace fc::common {

enum class LogLevel { Error, Warn, Info, Debug };

void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
void logLine(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define FC_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if (::fc::common::logEnabled(level))                                                       \
            ::fc::common::logLine(level, __VA_ARGS__);                                             \
    } while (0)
#define FC_ERROR(...) FC_LOG(::fc::common::LogLevel::Error, __VA_ARGS__)
#define FC_WARN(...) FC_LOG(::fc::common::LogLevel::Warn, __VA_ARGS__)
#define FC_INFO(...) FC_LOG(::fc::common::LogLevel::Info, __VA_ARGS__)
#define FC_DEBUG(...) FC_LOG(::fc::common::LogLevel::Debug, __VA_ARGS__)

} // namespace fc::common
