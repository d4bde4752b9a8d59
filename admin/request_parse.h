// What the admin port reads out of a request: query parameters, percent-encoding, the bearer
// token, a PURGE's own parameters and the list of paths POST /purge carries. Pure functions of
// their arguments (unit-tested in tests/unit/admin/request_parse_test.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fc::admin {

// f(kv) for each '&'-separated "key=value" of `query`, in order, until f returns false.
template <typename F> void forEachParam(std::string_view query, F &&f) {
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        if (!f(query.substr(0, amp)) || amp == std::string_view::npos)
            return;
        query.remove_prefix(amp + 1);
    }
}

// %XX decoded and '+' as a space (form encoding); a '%' not followed by two hex digits is kept.
std::string percentDecode(std::string_view s);

// `Authorization: Bearer <token>` (the header's value, as received), compared in constant time:
// the admin port may be reachable from a network where timing can be measured.
bool bearerMatches(std::optional<std::string_view> authorization, std::string_view token);

// A PURGE's target without the trailing host= and soft=1 parameters (ours, not the page's; the
// page's own query is kept). `soft` is set when soft=1 was among them.
std::string purgePath(std::string_view target, bool &soft);

// POST /purge's query asks for a soft purge (soft=1 anywhere in it).
bool softRequested(std::string_view query);

// POST /purge's body: one path per line, or a JSON array of strings (escapes \" and \\ only:
// paths need no more). False when it is neither, or names no path.
bool parsePathList(std::string_view body, std::vector<std::string> &out);

} // namespace fc::admin
