#include "proxy/access_log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace fc::proxy {

void appendJsonString(std::string &out, std::string_view s) {
    out.push_back('"');
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20 || c > 0x7e) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out.append(esc);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

void AccessLog::add(const AccessLogEntry &e) {
    if (fd_ < 0)
        return;
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char time[40];
    int n = std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec, static_cast<long>(tv.tv_usec / 1000));
    std::string_view t(time, static_cast<std::size_t>(n));
    if (json_)
        addJson(e, t);
    else
        addText(e, t);
    if (buf_.size() >= 64 * 1024)
        flush();
}

void AccessLog::addText(const AccessLogEntry &e, std::string_view time) {
    buf_.append(time);
    buf_.push_back(' ');
    buf_.append(e.client);
    buf_.append(" \"");
    buf_.append(e.method);
    buf_.push_back(' ');
    for (char c : e.target.substr(0, 2048)) // never let a target break the line format
        buf_.push_back(c == '"' || c == '\n' || c == '\r' ? '_' : c);
    char tail[160];
    char up[32];
    if (e.upstreamUs < 0)
        std::snprintf(up, sizeof up, "-");
    else
        std::snprintf(up, sizeof up, "%.3fms", static_cast<double>(e.upstreamUs) / 1000.0);
    int n = std::snprintf(tail, sizeof tail,
                          " HTTP/1.%d\" %d %llu %.*s upstream=%s server=", e.versionMinor, e.status,
                          static_cast<unsigned long long>(e.bytes),
                          static_cast<int>(e.cacheStatus.size()), e.cacheStatus.data(), up);
    buf_.append(tail, static_cast<std::size_t>(n));
    buf_.append(e.server);
    n = std::snprintf(tail, sizeof tail,
                      " total=%.3fms id=", static_cast<double>(e.totalUs) / 1000.0);
    buf_.append(tail, static_cast<std::size_t>(n));
    buf_.append(e.requestId.empty() ? std::string_view("-") : e.requestId);
    buf_.push_back('\n');
}

void AccessLog::addJson(const AccessLogEntry &e, std::string_view time) {
    char num[64];
    bool first = true;
    auto field = [&](const char *name) {
        buf_.append(first ? "{\"" : ",\"");
        first = false;
        buf_.append(name);
        buf_.append("\":");
    };
    field("time");
    appendJsonString(buf_, time);
    field("client");
    appendJsonString(buf_, e.client);
    field("method");
    appendJsonString(buf_, e.method);
    field("target");
    appendJsonString(buf_, e.target.substr(0, 2048));
    field("protocol");
    buf_.append(e.versionMinor == 0 ? "\"HTTP/1.0\"" : "\"HTTP/1.1\"");
    field("status");
    buf_.append(num, static_cast<std::size_t>(std::snprintf(num, sizeof num, "%d", e.status)));
    field("bytes");
    buf_.append(num, static_cast<std::size_t>(std::snprintf(
                         num, sizeof num, "%llu", static_cast<unsigned long long>(e.bytes))));
    field("cache");
    appendJsonString(buf_, e.cacheStatus);
    field("upstream_ms");
    if (e.upstreamUs < 0)
        buf_.append("null");
    else
        buf_.append(num, static_cast<std::size_t>(std::snprintf(
                             num, sizeof num, "%.3f", static_cast<double>(e.upstreamUs) / 1000.0)));
    field("server");
    if (e.server.empty() || e.server == "-")
        buf_.append("null");
    else
        appendJsonString(buf_, e.server);
    field("total_ms");
    buf_.append(num, static_cast<std::size_t>(std::snprintf(
                         num, sizeof num, "%.3f", static_cast<double>(e.totalUs) / 1000.0)));
    field("request_id");
    appendJsonString(buf_, e.requestId);
    buf_.append("}\n");
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

bool reopenLogFile(const std::string &path, int fd) {
    int fresh = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fresh < 0)
        return false;
    // dup2 replaces the descriptor atomically: a worker's write goes to the old file or to the
    // new one, never nowhere.
    bool ok = ::dup3(fresh, fd, O_CLOEXEC) >= 0;
    ::close(fresh);
    return ok;
}

} // namespace fc::proxy
