// What the command functions of MemcacheSession share (execute.cpp, meta.cpp, stats.cpp,
// session.cpp): the writers of answers and the storage command that waits for its data block.
// Internal to cache/memcache/.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "cache/memcache/command.h"
#include "cache/memcache/session.h"

namespace fc::cache {

// A storage command (text or ms) whose item is allocated and whose data block is being read.
struct MemcacheSession::Pending {
    ItemRef item;
    StoreMode mode = StoreMode::Set;
    std::uint64_t cas = 0;
    bool noreply = false;
    std::size_t filled = 0; // value bytes received
    std::size_t term = 0;   // bytes of the trailing "\r\n" received
    bool termOk = true;
    // ms: the answer is written once the block has arrived, when the line is gone: what it
    // needs is copied.
    bool meta = false;
    bool invalidate = false;
    bool keyBinary = false;
    std::string keyToken; // the key as the client wrote it (base64 with b)
    std::string echo;     // the c, O and k flag tokens in request order, space-separated
};

namespace memcache {

inline void putNum(std::string &out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

inline void putSigned(std::string &out, std::int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// One answer line: `text` and "\r\n".
inline void putLine(std::string &out, std::string_view text) {
    out.append(text);
    out.append("\r\n");
}

// " k<key>" as memcached's META_KEY writes it: base64 again, then " b", for a binary key.
inline void putMetaKey(std::string &out, std::string_view keyToken, bool binary) {
    out.append(" k");
    out.append(keyToken);
    if (binary)
        out.append(" b");
}

// The O and k flags, in request order: what every meta answer without an item echoes.
inline void putOpaqueAndKey(std::string &out, const Meta &m) {
    const MetaFlags &f = m.flags;
    for (std::size_t i = 0; i < f.count; ++i) {
        if (f.order[i][0] == 'O') {
            out.push_back(' ');
            out.append(f.order[i]);
        } else if (f.order[i][0] == 'k') {
            putMetaKey(out, m.keyToken, f.keyBinary);
        }
    }
}

} // namespace memcache
} // namespace fc::cache
