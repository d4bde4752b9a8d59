// [[rules]] applied (config.h, Rule; docs/rules.md): which rules a request matches, and what
// they do to the request, its key, the store's decision and the response. The server
// (proxy/exchange.cpp, proxy/fetch.cpp) and `frontcache explain` (tools/explain.cpp) call these
// same functions, so what explain says is what the server does.
//
// Pure (no I/O, no <uv.h>); safe from any thread. The rules belong to a loaded Config, which the
// caller keeps alive while it uses them (RuleSet holds it for a fetch that outlives a reload).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/policy/facts.h"
#include "cache/policy/policy.h"
#include "cache/policy/request.h"
#include "config/config.h"
#include "http/headers.h"

namespace fc::proxy {

// The rules a request matched: bit i = rules[i]. Matching stops at the first rule without
// `continue`.
using RuleMask = std::uint64_t;

// Which rules `req` matches. `req` is the request as it will be forwarded (after
// http::prepareForwarding). No allocation.
RuleMask matchRules(const std::vector<config::Rule> &rules, const http::RequestHead &req);

// What the matched rules decide before the cache is asked, merged in order (a later rule's
// choice replaces an earlier one's).
struct RuleRequest {
    config::Rule::Cache cache = config::Rule::Cache::Default;
    const config::Rule *respond = nullptr;  // answer with this rule's fixed response
    const config::Rule *decisive = nullptr; // the last matched rule that changed an outcome
    bool editsRequest = false;              // request_set/remove, strip_cookies, query edits
    bool keyed = false;         // key_headers / key_cookies, or an outcome from unkeyed fields
    bool stripsCookies = false; // strip_cookies (so bypass_cookies may be overridden)
};
RuleRequest ruleRequest(const std::vector<config::Rule> &rules, RuleMask m);

// The request edits of the matched rules, in order: strip_cookies, request_remove, request_set,
// then the query (query_deny, query_allow, query_sort) — before anything keys the request, so the
// application is sent exactly what the key describes.
void applyRequestEdits(const std::vector<config::Rule> &rules, RuleMask m, http::RequestHead &req);

// The classification with the rules: `cache = "bypass"` passes any request; `cache = "cache"`
// looks up a GET/HEAD without a body that only the configured defaults would pass (a query
// string, bypass_paths, bypass_cookies). Methods and bodies are never overridden.
// `changed` (when given): whether the rules changed the outcome.
cache::Bypass classifyWithRules(const http::RequestHead &req, const cache::PolicyConfig &cfg,
                                const RuleRequest &r, bool *queryInKey, bool *changed = nullptr);

// key_headers / key_cookies: what the page key adds for this request ("" when no rule keys):
// each "\x03name=value\n" or "\x03name-\n" when absent (a byte no other key element starts with),
// values as the application reads them (repeated fields joined; every cookie of the name); and
// the mask of matched rules when one of them decided something stored from a request field the
// key may not hold (a header, cookie or query parameter matcher).
void ruleKeyExtra(const std::vector<config::Rule> &rules, RuleMask m, const http::RequestHead &req,
                  std::string &out);

// The upstream group the matched rules send the request to (the last `upstream` given; 0 = the
// default servers).
std::size_t ruleUpstreamPool(const std::vector<config::Rule> &rules, RuleMask m);

// A fetch's hold on the rules it matched: the config they belong to stays alive with it.
struct RuleSet {
    std::shared_ptr<const config::Config> config;
    RuleMask mask = 0;
    explicit operator bool() const { return config && mask != 0; }
    const std::vector<config::Rule> &rules() const { return config->rules; }
};

// The response edits, before anything reads the response: strip_set_cookie, response_remove,
// response_set. (A stored page keeps the edited head, so hits need no work.)
void applyResponseEdits(const std::vector<config::Rule> &rules, RuleMask m, http::HeaderList &h);

// The store's decision with the rules' lifetimes: status_ttl (0: never stored), ttl by ttl_mode
// (respect: the lifetime of a response that gives none; override; floor; ceiling — of what is
// left of the response's lifetime, its age on arrival counted once), grace and stale_if_error
// (never where RFC 9111 forbids serving stale). What a lifetime may lift: a refusal for the
// status only when status_ttl names it; for a missing or zero lifetime, of a status cacheable
// by default (RFC 9110 §15.1) or named by status_ttl. Never private, no-store, Set-Cookie,
// Authorization, Vary: *, and never a 1xx, 206 or 304. `redecide(status)` decides the same
// response as if it had that status (rules may store a 404 that Django's rules would not).
// Returns the rule that changed the decision, or null.
struct RuleTtl {
    std::optional<std::int64_t> statusTtl; // for this status (the code beats its class)
    const config::Rule *statusFrom = nullptr;
    config::Rule::Ttl mode = config::Rule::Ttl::None;
    std::int64_t ttl = 0;
    const config::Rule *from = nullptr; // the rule that gave ttl / ttl_mode
    std::optional<std::int64_t> grace, staleIfError;
};
RuleTtl ruleTtl(const std::vector<config::Rule> &rules, RuleMask m, int status);
const config::Rule *adjustDecision(const RuleTtl &t, const cache::ResponseFacts &facts,
                                   cache::StoreDecision &d,
                                   const std::function<cache::StoreDecision(int)> &redecide);

// Whether a response says how long it is fresh (max-age, s-maxage, Expires).
bool hasExplicitLifetime(const cache::ResponseFacts &facts);

// A rule's fixed response (respond = {...}), whole.
std::string ruleResponse(const config::Rule &r, bool close);

} // namespace fc::proxy
