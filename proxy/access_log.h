// The access log: one line per request (time, client, request line, status, bytes, cache
// status, upstream time, upstream server, total time, request id) as text or as one JSON object
// (log.format), buffered per worker and written with one write(2) per 64 KiB or per second —
// never a system call per line. Workers share the file descriptor (O_APPEND), each writing whole
// lines, so lines never interleave; SIGUSR1 reopens the file under the same descriptor (dup2),
// so logrotate needs no restart.
//
// Threading: one AccessLog per worker, used from that worker's loop only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fc::proxy {

// `s` as a JSON string literal: quotes, backslashes and control characters escaped; bytes over
// 0x7f as \u00XX (the output stays valid JSON whatever a client sent).
void appendJsonString(std::string &out, std::string_view s);

struct AccessLogEntry {
    std::string_view client, method, target;
    int versionMinor = 1;
    int status = 0;
    std::uint64_t bytes = 0;
    std::string_view cacheStatus;
    std::int64_t upstreamUs = -1; // < 0: no response head came from the upstream (hit, error)
    std::string_view server;      // the upstream server's URL, or "-"
    std::int64_t totalUs = 0;
    std::string_view requestId;
};

class AccessLog {
public:
    explicit AccessLog(int fd, bool json = false) : fd_(fd), json_(json) {}
    ~AccessLog() { flush(); }
    bool enabled() const { return fd_ >= 0; }
    void setJson(bool json) { json_ = json; } // log.format, reloadable
    void add(const AccessLogEntry &e);
    void flush();

private:
    void addText(const AccessLogEntry &e, std::string_view time);
    void addJson(const AccessLogEntry &e, std::string_view time);
    int fd_;
    bool json_;
    std::string buf_;
};

// Reopens the access log file `path` under descriptor `fd` (open + dup2): every worker keeps
// writing to `fd`, now the new file. Returns false (errno set) when the file cannot be opened.
bool reopenLogFile(const std::string &path, int fd);

} // namespace fc::proxy
