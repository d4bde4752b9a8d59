#include "cache/memcache/auth.h"

#include <cstdint>
#include <string_view>

#include "cache/memcache/line.h"
#include "cache/memcache/session.h"

namespace fc::cache {

namespace {

// The <bytes> of a login line: memcached's mcmc_toktou32, digits only, within 32 bits.
bool parseBlockLength(std::string_view t, std::uint64_t &v) {
    if (t.empty() || t.size() > 11) // mcmc: at most 11 characters, leading zeros allowed
        return false;
    v = 0;
    for (char c : t) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v <= UINT32_MAX;
}

// Is `line` "set <key> <flags> <exptime> <bytes> ..."? Sets `bytes`.
bool isLoginLine(std::string_view line, std::uint64_t &bytes) {
    std::string_view tok[5];
    std::size_t n = 0, pos = 0;
    while (n < 5 && !(tok[n] = nextToken(line, pos)).empty())
        ++n;
    return n == 5 && tok[0] == "set" && parseBlockLength(tok[4], bytes);
}

} // namespace

AsciiAuth::Status AsciiAuth::feed(const char *data, std::size_t len, std::size_t &consumed,
                                  std::string &out, ProtocolStats &stats) {
    std::size_t pos = 0;
    Status st = Status::NeedMore;
    while (pos < len && st == Status::NeedMore) {
        if (block_ > 0) {
            // memcached answers a login only once its whole data block is there.
            if (len - pos < block_)
                break;
            std::string_view block(data + pos, block_);
            pos += block_;
            block_ = 0;
            if (block.substr(block.size() - 2) != "\r\n") {
                out += "CLIENT_ERROR bad command line termination\r\n";
                continue;
            }
            block.remove_suffix(2);
            std::size_t space = block.find(' ');
            if (space == std::string_view::npos) {
                out += "CLIENT_ERROR bad authentication token format\r\n";
                continue;
            }
            stats.authCmds.fetch_add(1, std::memory_order_relaxed);
            if (users_->check(block.substr(0, space), block.substr(space + 1))) {
                out += "STORED\r\n";
                st = Status::Authenticated;
            } else {
                stats.authErrors.fetch_add(1, std::memory_order_relaxed);
                out += "CLIENT_ERROR authentication failure\r\n";
            }
            continue;
        }
        std::string_view line;
        if (!takeLine(data, len, pos, line)) {
            if (len - pos > kMaxJunk) {
                pos = len;
                st = Status::Close;
            }
            break;
        }
        std::uint64_t bytes = 0;
        if (!isLoginLine(line, bytes))
            out += "CLIENT_ERROR unauthenticated\r\n";
        else if (bytes > kMaxLogin)
            out += "CLIENT_ERROR auth token too long\r\n"; // its block is read as commands
        else
            block_ = static_cast<std::size_t>(bytes) + 2;
    }
    consumed = pos;
    stats.bytesRead.fetch_add(pos, std::memory_order_relaxed);
    return st;
}

} // namespace fc::cache
