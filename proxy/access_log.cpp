#include "proxy/access_log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace fc::proxy {

void AccessLog::add(std::string_view client, std::string_view method, std::string_view target,
                    int versionMinor, int status, std::uint64_t bytes, std::string_view cacheStatus,
                    std::int64_t upstreamUs, std::string_view server, std::int64_t totalUs) {
    if (fd_ < 0)
        return;
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char head[96];
    int n = std::snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec, static_cast<long>(tv.tv_usec / 1000));
    buf_.append(head, static_cast<std::size_t>(n));
    buf_.append(client);
    buf_.append(" \"");
    buf_.append(method);
    buf_.push_back(' ');
    for (char c : target.substr(0, 2048)) // never let a target break the line format
        buf_.push_back(c == '"' || c == '\n' || c == '\r' ? '_' : c);
    char tail[160];
    char up[32];
    if (upstreamUs < 0)
        std::snprintf(up, sizeof up, "-");
    else
        std::snprintf(up, sizeof up, "%.3fms", static_cast<double>(upstreamUs) / 1000.0);
    n = std::snprintf(tail, sizeof tail,
                      " HTTP/1.%d\" %d %llu %.*s upstream=%s server=", versionMinor, status,
                      static_cast<unsigned long long>(bytes), static_cast<int>(cacheStatus.size()),
                      cacheStatus.data(), up);
    buf_.append(tail, static_cast<std::size_t>(n));
    buf_.append(server);
    n = std::snprintf(tail, sizeof tail, " total=%.3fms\n", static_cast<double>(totalUs) / 1000.0);
    buf_.append(tail, static_cast<std::size_t>(n));
    if (buf_.size() >= 64 * 1024)
        flush();
}

void AccessLog::flush() {
    std::size_t off = 0;
    while (fd_ >= 0 && off < buf_.size()) {
        ssize_t w = ::write(fd_, buf_.data() + off, buf_.size() - off);
        if (w <= 0)
            break; // a full disk must not stop the proxy: the lines are dropped
        off += static_cast<std::size_t>(w);
    }
    buf_.clear();
}

} // namespace fc::proxy
