// The PROXY protocol header (HAProxy's specification, versions 1 and 2) that a load balancer or
// TLS terminator sends first on each connection: the original client's address and, in v2, TLVs
// such as PP2_TYPE_SSL (the client connected over TLS). server.proxy_protocol = true makes every
// connection start with one; a connection without a valid header is closed, never read as HTTP.
//
// Incremental: feed() may be called with the bytes as they arrive, split anywhere. Pure; one
// parser per connection, used from its loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fc::http {

class ProxyHeaderParser {
public:
    enum class Status { NeedMore, Done, Error };
    struct Result {
        int version = 0;
        // false: LOCAL (v2), UNKNOWN (v1) or an address family other than TCP/UDP over IPv4/6
        // (the connection's own address stands).
        bool hasAddress = false;
        std::string source; // the client's address, as inet_ntop writes it
        std::uint16_t sourcePort = 0;
        bool ssl = false; // v2: PP2_TYPE_SSL with PP2_CLIENT_SSL set
    };
    // v2 headers longer than this (address block + TLVs) are refused.
    static constexpr std::size_t kMaxV2Length = 4096;

    // Takes bytes of the connection's start. `consumed` is set to how many of them belong to the
    // header (after Done, what follows is the first request).
    Status feed(const char *data, std::size_t len, std::size_t &consumed);
    const Result &result() const { return result_; }
    const char *error() const { return error_; }

private:
    Status fail(const char *why);
    Status parseV1(std::size_t end);
    Status parseV2();

    std::string buf_;
    Result result_;
    const char *error_ = nullptr;
    Status status_ = Status::NeedMore;
};

} // namespace fc::http
