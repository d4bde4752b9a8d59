// HTTP header fields and message heads (RFC 9110 §5, RFC 9112 §2-5).
//
// Ownership: a HeaderList owns one contiguous byte buffer that every name/value view points into;
// views are invalidated by any mutation. clear() keeps the capacity so a connection can reuse one
// list for every request it carries without allocating again. Not thread-safe; owned by one
// connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace fc::http {

// ASCII case-insensitive comparison, as field names are case-insensitive (RFC 9110 §5.1).
// Inline: most comparisons of field names end at their lengths.
bool equalsIgnoreCaseBytes(std::string_view a, std::string_view b); // same length
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && equalsIgnoreCaseBytes(a, b);
}

// tchar (RFC 9110 §5.6.2): the characters of a token — a method, a field name, a transfer coding.
inline bool isTokenChar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

// What may appear in a field value (RFC 9110 §5.5: VCHAR, SP, HTAB, obs-text).
inline bool isFieldValueChar(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

// True if the comma-separated list `value` contains `token` (case-insensitive), e.g.
// listContains("keep-alive, Upgrade", "upgrade"). Used for Connection and Transfer-Encoding.
bool listContains(std::string_view value, std::string_view token);

// Trims optional whitespace (SP / HTAB) at both ends (RFC 9110 §5.6.3 OWS).
std::string_view trimOws(std::string_view s);

// Calls f(member) for each non-empty member of a comma-separated field value, white space
// trimmed (RFC 9110 §5.6.1). Quoted strings are not special. When f returns bool, false stops
// the walk; the result says whether it ran to the end.
template <typename F> bool forEachListMember(std::string_view value, F &&f) {
    while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view m = trimOws(value.substr(0, comma));
        if (!m.empty()) {
            if constexpr (std::is_same_v<decltype(f(m)), bool>) {
                if (!f(m))
                    return false;
            } else {
                f(m);
            }
        }
        if (comma == std::string_view::npos)
            break;
        value.remove_prefix(comma + 1);
    }
    return true;
}

// A head as frontcache serialises and stores it: a status line, then "Name: value" field lines,
// each ending in CRLF (the blank line not included). The status line with its CRLF:
inline std::string_view headStatusLine(std::string_view head) {
    std::size_t eol = head.find("\r\n");
    return eol == std::string_view::npos ? head : head.substr(0, eol + 2);
}
// Calls f(name, value, line) for each field line after the status line: `value` trimmed, `line`
// the whole line with its CRLF (when it has one). Lines without a colon are skipped.
template <typename F> void forEachHeadField(std::string_view head, F &&f) {
    std::string_view rest = head.substr(headStatusLine(head).size());
    while (!rest.empty()) {
        std::size_t eol = rest.find("\r\n");
        std::string_view line =
            rest.substr(0, eol == std::string_view::npos ? rest.size() : eol + 2);
        rest.remove_prefix(line.size());
        std::string_view text = line.substr(0, eol == std::string_view::npos ? line.size() : eol);
        std::size_t colon = text.find(':');
        if (colon != std::string_view::npos)
            f(text.substr(0, colon), trimOws(text.substr(colon + 1)), line);
    }
}

class HeaderList {
public:
    struct Field {
        std::string_view name;
        std::string_view value;
    };

    void clear();
    size_t size() const { return fields_.size(); }
    bool empty() const { return fields_.empty(); }
    Field operator[](size_t i) const;

    void add(std::string_view name, std::string_view value);
    // Incremental construction from a parser that delivers names and values in pieces.
    void appendName(std::string_view piece);
    void appendValue(std::string_view piece);
    // Called when a value is complete: strips trailing OWS (llhttp keeps it).
    void finishValue();

    // Value of the first field with this name, if any.
    std::optional<std::string_view> get(std::string_view name) const;
    bool has(std::string_view name) const { return get(name).has_value(); }
    size_t count(std::string_view name) const;
    // Removes every field with this name; returns how many were removed.
    size_t remove(std::string_view name);
    // Replaces every field named `name` with one at the end whose value is theirs joined with
    // ", " (one list, RFC 9110 §5.3), then `last` (when not empty). Views are invalidated.
    void joinFields(std::string_view name, std::string_view last);
    // Removes every field for which pred(name, value) is true, in one pass; returns how many.
    // Views of the remaining fields (and of removed values) stay valid: the bytes are kept.
    template <typename F> size_t removeIf(F &&pred) {
        size_t before = fields_.size();
        std::erase_if(fields_, [&](const Slot &s) {
            std::string_view b(buf_);
            return pred(b.substr(s.nameOff, s.nameLen), b.substr(s.valueOff, s.valueLen));
        });
        return before - fields_.size();
    }

    template <typename F> void forEach(F &&f) const {
        for (size_t i = 0; i < fields_.size(); ++i) {
            Field fl = (*this)[i];
            f(fl.name, fl.value);
        }
    }

private:
    struct Slot {
        std::uint32_t nameOff, nameLen, valueOff, valueLen;
    };
    std::string buf_;
    std::vector<Slot> fields_;
    bool inValue_ = false;
};

struct RequestHead {
    std::string method; // "GET"
    std::string target; // request-target as sent: "/path?q" (origin-form) or absolute-form
    std::uint8_t versionMajor = 1, versionMinor = 1;
    HeaderList headers;
    bool keepAlive = true;           // the client's wish per RFC 9112 §9.3 (from llhttp)
    bool chunked = false;            // Transfer-Encoding: chunked body follows
    std::int64_t contentLength = -1; // -1 when absent
    // llhttp saw an Upgrade field and "upgrade" in Connection: the request may be a handshake
    // (http::isWebSocketUpgrade checks the rest), so no other request pays for that check.
    bool upgradeAsked = false;

    void clear();
    bool hasBody() const { return chunked || contentLength > 0; }
};

struct ResponseHead {
    int status = 0;
    std::string reason;
    std::uint8_t versionMajor = 1, versionMinor = 1;
    HeaderList headers;
    bool keepAlive = true; // the upstream allows reusing the connection
    bool chunked = false;
    std::int64_t contentLength = -1; // -1 when absent (read until close or chunked)

    void clear();
};

} // namespace fc::http
