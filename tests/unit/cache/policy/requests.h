// Requests and header lists for the cache/policy/ unit tests (request_test, keys_test,
// policy_test): a GET to example.com with the given fields, and the browser defaults of
// cache.ignore_query_params and cache.ignore_cookies.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "cache/policy/policy.h"
#include "http/headers.h"

namespace fc::cache::testing {

inline http::RequestHead get(std::string target,
                             std::initializer_list<std::pair<const char *, const char *>> h,
                             std::string method = "GET") {
    http::RequestHead r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.add("Host", "example.com");
    for (auto &[n, v] : h)
        r.headers.add(n, v);
    return r;
}

inline http::HeaderList headers(std::initializer_list<std::pair<const char *, const char *>> h) {
    http::HeaderList l;
    for (auto &[n, v] : h)
        l.add(n, v);
    return l;
}

// Campaign parameters and analytics cookies, as the example config names them.
inline PolicyConfig browserDefaults() {
    PolicyConfig c;
    c.ignoreQueryParams = {"utm_*", "gclid", "fbclid", "_ga"};
    c.ignoreCookies = {"_ga", "_ga_*", "_gid", "_gat*", "__utm*", "_hj*"};
    return c;
}

inline std::string cookieOf(const http::RequestHead &r) {
    return std::string(r.headers.get("cookie").value_or("<none>"));
}

} // namespace fc::cache::testing
