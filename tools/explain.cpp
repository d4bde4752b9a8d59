#include "tools/explain.h"

#include <ctime>

#include "cache/policy/facts.h"
#include "cache/policy/keys.h"
#include "cache/policy/request.h"
#include "http/rewrite.h"
#include "proxy/cache_context.h"
#include "proxy/rules.h"

namespace fc::tools {

namespace {
bool addField(http::HeaderList &h, const std::string &line, std::string &out) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
        out += "explain: \"" + line + "\" is not a field (expected \"Name: value\")\n";
        return false;
    }
    h.add(http::trimOws(std::string_view(line).substr(0, colon)),
          http::trimOws(std::string_view(line).substr(colon + 1)));
    return true;
}

// The request as the client would send it: origin-form target, Host from the URL.
bool buildRequest(const ExplainOptions &o, http::RequestHead &req, bool &https, std::string &out) {
    req.method = o.method;
    std::string_view url = o.url;
    https = url.starts_with("https://");
    std::string host = "localhost";
    if (url.starts_with("http://") || https) {
        url.remove_prefix(https ? 8 : 7);
        const std::size_t slash = url.find('/');
        host = std::string(url.substr(0, slash));
        url = slash == std::string_view::npos ? "/" : url.substr(slash);
    }
    if (url.empty() || url.front() != '/' || host.empty()) {
        out += "explain: \"" + o.url + "\" is not a URL (http://host/path or /path)\n";
        return false;
    }
    req.target = std::string(url);
    bool hostGiven = false;
    for (const auto &f : o.headers)
        hostGiven |=
            f.size() > 5 && http::equalsIgnoreCase(std::string_view(f).substr(0, 5), "host:");
    if (!hostGiven)
        req.headers.add("Host", host);
    for (const auto &f : o.headers)
        if (!addField(req.headers, f, out))
            return false;
    return true;
}

void listRules(const config::Config &cfg, proxy::RuleMask m, std::string &out) {
    if (m == 0) {
        out += "rules: none matched (" + std::to_string(cfg.rules.size()) + " configured)\n";
        return;
    }
    out += "rules matched, in order:\n";
    for (std::size_t i = 0; i < cfg.rules.size(); ++i)
        if (m & (proxy::RuleMask{1} << i))
            out += "  " + cfg.rules[i].name + "  (" + cfg.rules[i].where + ")" +
                   (cfg.rules[i].continueAfter ? "  continue" : "") + "\n";
}

const char *ttlModeName(config::Rule::Ttl t) {
    switch (t) {
    case config::Rule::Ttl::Respect:
        return "respect (the app's lifetime; this one when it gives none)";
    case config::Rule::Ttl::Override:
        return "override";
    case config::Rule::Ttl::Floor:
        return "floor";
    case config::Rule::Ttl::Ceiling:
        return "ceiling";
    case config::Rule::Ttl::None:
        break;
    }
    return "none";
}

// The response part: decided as PageFill::plan decides.
void explainResponse(const config::Config &cfg, const cache::PolicyConfig &policy,
                     const ExplainOptions &o, const http::RequestHead &req,
                     const proxy::RuleSet &rules, std::string &out) {
    http::HeaderList resp;
    for (const auto &f : o.respHeaders)
        if (!addField(resp, f, out))
            return;
    if (rules)
        proxy::applyResponseEdits(cfg.rules, rules.mask, resp);
    const std::int64_t now = std::time(nullptr);
    const cache::ResponseFacts facts = cache::responseFacts(o.status, -1, resp, policy);
    cache::StoreDecision d = cache::decideStore(req, facts, policy, {now, now});
    const config::Rule *by = nullptr;
    if (rules) {
        const proxy::RuleTtl t = proxy::ruleTtl(cfg.rules, rules.mask, o.status);
        by = proxy::adjustDecision(t, facts, d, [&](int status) {
            cache::ResponseFacts as = facts;
            as.status = status;
            return cache::decideStore(req, as, policy, {now, now});
        });
    }
    out += "response " + std::to_string(o.status) + ": ";
    if (d.reason != cache::NotStored::None) {
        out += std::string("not stored (") + cache::notStoredName(d.reason) + ")";
    } else {
        const cache::StoreDecision kept =
            d.capped(static_cast<std::int64_t>(cfg.cache.maxTtl.count() / 1000));
        out += "stored, fresh for " + std::to_string(kept.freshFor() - kept.initialAge) +
               " s, grace " + std::to_string(kept.grace) + " s, stale_if_error " +
               std::to_string(kept.staleIfError) + " s, kept " + std::to_string(kept.keepFor()) +
               " s";
        if (d.revalidate)
            out += " (revalidated on every reuse: no-cache)";
    }
    out += by ? "  [decided by rule " + by->name + "]\n" : "\n";
    if (rules) {
        std::string edited;
        resp.forEach([&](std::string_view n, std::string_view v) {
            edited += "  " + std::string(n) + ": " + std::string(v) + "\n";
        });
        out += "response fields after the rules:\n" + (edited.empty() ? "  (none)\n" : edited);
    }
}
} // namespace

int runExplain(const config::Config &cfg, const ExplainOptions &o, std::string &out) {
    proxy::CacheContext ctx;
    proxy::applyCacheSettings(cfg, ctx);
    const cache::PolicyConfig &policy = ctx.policy;
    http::RequestHead req;
    bool https = false;
    if (!buildRequest(o, req, https, out))
        return 2;
    // As Exchange::onHead and begin do it, in that order.
    const http::ForwardRules fwd{"127.0.0.1", false, cfg.server.underscoresInHeaders};
    if (http::Refusal r = http::prepareForwarding(req, fwd)) {
        out += "refused: " + std::to_string(r.status) + " (" + r.reason + ")\n";
        return 0;
    }
    req.headers.remove("expect"); // answered by frontcache itself, never forwarded or matched
    out += "request: " + req.method + " " + req.target + "\n";
    const proxy::RuleMask m = proxy::matchRules(cfg.rules, req);
    listRules(cfg, m, out);
    const proxy::RuleRequest rr = proxy::ruleRequest(cfg.rules, m);
    if (rr.respond) {
        out += "answer: " + std::to_string(rr.respond->respondStatus) + " from rule " +
               rr.respond->name + " (the application is not asked)\n";
        return 0;
    }
    if (rr.editsRequest)
        proxy::applyRequestEdits(cfg.rules, m, req);
    if ((req.method == "GET" || req.method == "HEAD") && !req.hasBody())
        cache::normalizeCacheableRequest(req, policy);
    bool queryInKey = policy.queryInKey;
    bool changed = false;
    const cache::Bypass b = proxy::classifyWithRules(req, policy, rr, &queryInKey, &changed);
    out += "forwarded as: " + req.method + " " + req.target + "\n";
    req.headers.forEach([&](std::string_view n, std::string_view v) {
        out += "  " + std::string(n) + ": " + std::string(v) + "\n";
    });
    if (b != cache::Bypass::None) {
        out += std::string("decision: bypass (") + cache::bypassName(b) + ")";
        out += changed && rr.decisive ? ", rule " + rr.decisive->name + "\n" : "\n";
    } else {
        out += "decision: look up, store on a miss";
        out += changed && rr.decisive ? " (rule " + rr.decisive->name + ")\n" : "\n";
        std::string uri, extra, key;
        cache::absoluteUri(req, policy, uri, https ? "https" : "http", queryInKey);
        if (rr.keyed)
            proxy::ruleKeyExtra(cfg.rules, m, req, extra);
        out += "key uri: " + uri + "\n";
        cache::headerKey(policy, uri, key);
        out += "header key: " + key + "\n";
        key.clear();
        cache::pageKey(policy, "GET", uri, "", req.headers, key, extra);
        out += "page key (a response without Vary): " + key + "\n";
        if (!extra.empty())
            out += "  the rules add their key_headers / key_cookies values to it\n";
    }
    const proxy::RuleTtl t = proxy::ruleTtl(cfg.rules, m, o.status);
    if (t.from)
        out += std::string("lifetime rules: ttl_mode ") + ttlModeName(t.mode) + ", ttl " +
               std::to_string(t.ttl) + " s" +
               (t.statusTtl ? ", for this status " + std::to_string(*t.statusTtl) + " s" : "") +
               " (rule " + t.from->name + ")\n";
    if (o.status > 0 && b == cache::Bypass::None) {
        // The config is the caller's and outlives this call: held without owning it.
        const proxy::RuleSet rules{
            std::shared_ptr<const config::Config>(&cfg, [](const config::Config *) {}), m};
        explainResponse(cfg, policy, o, req, rules, out);
    }
    return 0;
}

} // namespace fc::tools
