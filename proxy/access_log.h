// The access log: one line per request (time, client, request line, status, bytes, cache
// status, upstream time, upstream server, total time), buffered per worker and written with one
// write(2) per 64 KiB or per second — never a system call per line. Workers share the file
// descriptor (O_APPEND), each writing whole lines, so lines never interleave.
//
// Threading: one AccessLog per worker, used from that worker's loop only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fc::proxy {

class AccessLog {
public:
    explicit AccessLog(int fd) : fd_(fd) {}
    ~AccessLog() { flush(); }
    bool enabled() const { return fd_ >= 0; }
    // `upstreamUs` < 0 when no response head came from the upstream (a hit, an error);
    // `server` is the URL of the server the request was sent to, or "-".
    void add(std::string_view client, std::string_view method, std::string_view target,
             int versionMinor, int status, std::uint64_t bytes, std::string_view cacheStatus,
             std::int64_t upstreamUs, std::string_view server, std::int64_t totalUs);
    void flush();

private:
    int fd_;
    std::string buf_;
};

} // namespace fc::proxy
