// A command line of memcached's text protocol and its tokens, read as memcached reads them.
// Shared by the commands (parse.cpp) and the login before them (auth.cpp).
//
// Pure; no state.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace fc::cache {

// The next line of data[pos, len): true with `line` set and `pos` moved past its '\n', a '\r'
// before it dropped (doc/protocol.txt asks for "\r\n"; memcached accepts a bare "\n" too);
// false, nothing moved, when no '\n' has arrived yet (the caller bounds how long it waits).
inline bool takeLine(const char *data, std::size_t len, std::size_t &pos, std::string_view &line) {
    const char *nl = static_cast<const char *>(std::memchr(data + pos, '\n', len - pos));
    if (!nl)
        return false;
    line = std::string_view(data + pos, static_cast<std::size_t>(nl - (data + pos)));
    pos = static_cast<std::size_t>(nl - data) + 1;
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return true;
}

// The next token of `line` from `pos`, as memcached's tokenizer splits a command line: on ' '
// only, a run of spaces being one separator. Empty when none is left.
inline std::string_view nextToken(std::string_view line, std::size_t &pos) {
    while (pos < line.size() && line[pos] == ' ')
        ++pos;
    std::size_t start = pos;
    while (pos < line.size() && line[pos] != ' ')
        ++pos;
    return line.substr(start, pos - start);
}

} // namespace fc::cache
