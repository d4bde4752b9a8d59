// The memcached text protocol and meta protocol (memcached 1.6, doc/protocol.txt) over the
// store: bytes in -> commands -> bytes out. No sockets: the proxy's listener feeds received
// bytes and writes what comes out, so everything here is unit-testable and fuzzable.
//
// A session reads a line, parses it into a typed command (cache/memcache/command.h), runs it
// with one switch on its family (execute.cpp: text commands, meta.cpp: meta commands, stats.cpp)
// and, for a storage command, reads its data block into the item before storing it.
//
// Threading: one MemcacheSession per connection, used from one thread. The ProtocolContext is
// shared by every session of every worker; its counters are relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cache/memcache/auth.h"
#include "cache/store/store.h"

namespace fc::cache {

namespace memcache {
struct Command;
}

struct ProtocolStats {
    std::atomic<std::uint64_t> cmdGet{0}, cmdSet{0}, cmdFlush{0}, cmdTouch{0}, cmdMeta{0};
    std::atomic<std::uint64_t> getHits{0}, getMisses{0};
    std::atomic<std::uint64_t> bytesRead{0}, bytesWritten{0};
    std::atomic<std::uint64_t> currConnections{0}, totalConnections{0};
    std::atomic<std::uint64_t> rejectedConnections{0};
    std::atomic<std::uint64_t> authCmds{0}, authErrors{0}; // login attempts, failed ones
};

struct ProtocolContext {
    Store &store;
    const Clock &clock;
    std::int64_t startTime; // unix time the server started
    unsigned threads = 1;   // workers serving the protocol
    unsigned maxConnections = 0;
    std::string version; // returned by "version"
    ProtocolStats stats;
    std::atomic<unsigned> verbosity{0};
    // Appends further "STAT name value\r\n" lines to "stats" (the HTTP cache's counters).
    std::function<void(std::string &)> extraStats;

    ProtocolContext(Store &s, const Clock &c, std::string ver)
        : store(s), clock(c), startTime(c.now()), version(std::move(ver)) {}
};

class MemcacheSession {
public:
    enum class Status {
        NeedMore, // consumed what it could; call again with more bytes
        Close,    // "quit", or an error after which memcached closes the connection
        Watch,    // "watch" accepted: from now on the connection only receives log lines
                  // (watchKinds() says which); further input is ignored, as memcached does
    };

    // `users` not null: memcached.auth_file is set, and every command waits for a login
    // (cache/memcache/auth.h); the session keeps its own reference, so a reload that
    // changes the users does not touch a connection already open.
    explicit MemcacheSession(ProtocolContext &ctx,
                             std::shared_ptr<const AuthUsers> users = nullptr);
    ~MemcacheSession();

    // Processes as many complete commands (and data blocks) from `data` as possible, appending
    // responses to `out`. Sets `consumed` to the bytes used; the caller keeps the rest and
    // passes it again, followed by new bytes. Never throws; never asserts on input.
    Status feed(const char *data, std::size_t len, std::size_t &consumed, std::string &out);

    // Longest command line accepted (multi-key gets make long lines); beyond it the connection
    // is answered with an error and closed, as memcached does.
    static constexpr std::size_t kMaxLine = 64 * 1024;
    // After Status::Watch: the kinds of lines asked for (cache::WatchKind bits).
    std::uint32_t watchKinds() const { return watchKinds_; }

private:
    struct Pending; // a storage command waiting for its data block (cache/memcache/execute.h)
    bool readBlock(const char *data, std::size_t len, std::size_t &pos, std::string &out);
    // The dispatch: one switch on the command's family. The functions below take the family
    // the switch found (Command::as).
    Status execute(const memcache::Command &c, std::string &out);
    void retrieve(const memcache::Command &c, std::string &out);
    void startStore(const memcache::Command &c, std::string &out);
    void finishStore(std::string &out);
    void remove(const memcache::Command &c, std::string &out);
    void arithmetic(const memcache::Command &c, std::string &out);
    void touch(const memcache::Command &c, std::string &out);
    void flushAll(const memcache::Command &c, std::string &out);
    void verbosity(const memcache::Command &c, std::string &out);
    void cacheMemlimit(const memcache::Command &c, std::string &out);
    void stats(const memcache::Command &c, std::string &out);
    void metaGet(const memcache::Command &c, std::string &out);
    void metaSet(const memcache::Command &c, std::string &out);
    void metaDelete(const memcache::Command &c, std::string &out);
    void metaArithmetic(const memcache::Command &c, std::string &out);
    void metaDebug(const memcache::Command &c, std::string &out);
    // A data block the store refused (too large) or memcached reads past (a refused ms):
    // `bytes` are discarded, then `reply` (may be null) is answered.
    void readPast(std::size_t bytes, const char *reply);

    ProtocolContext &ctx_;
    std::unique_ptr<AsciiAuth> auth_;    // until a login succeeded (null: none needed)
    std::unique_ptr<Pending> pending_;   // storage command whose data block is being read
    std::size_t swallow_ = 0;            // bytes of a refused data block still to discard
    const char *swallowReply_ = nullptr; // answer to send once they are discarded
    std::uint32_t watchKinds_ = 0;
};

} // namespace fc::cache
