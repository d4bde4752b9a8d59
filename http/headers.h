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
#include <vector>

namespace fc::http {

// ASCII case-insensitive comparison, as field names are case-insensitive (RFC 9110 §5.1).
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// True if the comma-separated list `value` contains `token` (case-insensitive), e.g.
// listContains("keep-alive, Upgrade", "upgrade"). Used for Connection and Transfer-Encoding.
bool listContains(std::string_view value, std::string_view token);

// Trims optional whitespace (SP / HTAB) at both ends (RFC 9110 §5.6.3 OWS).
std::string_view trimOws(std::string_view s);

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
