#include "common/log.h"

#include <cstdarg>
#include <ctime>
#include <sys/time.h>
#include <unistd.h>

namespace fc::common {

namespace {
std::atomic<int> gLevel{static_cast<int>(LogLevel::Info)};
const char *levelName(LogLevel l) {
    switch (l) {
    case LogLevel::Error:
        return "error";
    case LogLevel::Warn:
        return "warn";
    case LogLevel::Info:
        return "info";
    case LogLevel::Debug:
        return "debug";
    }
    return "?";
}
} // namespace

void setLogLevel(LogLevel level) {
    gLevel.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool logEnabled(LogLevel level) {
    return static_cast<int>(level) <= gLevel.load(std::memory_order_relaxed);
}

void logLine(LogLevel level, const char *fmt, ...) {
    char buf[1024];
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = std::snprintf(buf, sizeof buf,
                          "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ frontcache %s: ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                          static_cast<long>(tv.tv_usec / 1000), levelName(level));
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n) - 1, fmt, ap);
    va_end(ap);
    size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    ssize_t w = ::write(2, buf, len);
    (void)w;
}

} // namespace fc::common
