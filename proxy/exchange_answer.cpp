// The exchange's answers from memory (a page in one writev, an error, a public purge), its
// access-log line, and what it tells the upstream about the request (forwarding fields, the
// request id). Split from exchange.cpp to keep each file readable; see proxy/exchange.h.
#include <charconv>
#include <cstring>

#include "cache/policy/reuse.h"
#include "common/log.h"
#include "http/range.h"
#include "proxy/client.h"
#include "proxy/exchange.h"
#include "proxy/limits.h"
#include "proxy/purge.h"
#include "proxy/worker.h"

namespace fc::proxy {

http::ForwardInfo Exchange::forwardInfo() {
    http::ForwardInfo f;
    f.proto = req_.https ? "https" : "http"; // the key's scheme (Exchange::onHead)
    f.requestId = requestId();
    return f;
}

std::string_view Exchange::requestId() {
    if (req_.requestIdLen == 0) {
        // A client's (or a proxy's in front) id is kept when it is 1-63 visible characters
        // without quotes or backslashes (it goes into logs and JSON as it is); else ours.
        auto theirs = head().headers.get("x-request-id");
        bool usable = theirs && !theirs->empty() && theirs->size() < sizeof requestId_;
        for (std::size_t i = 0; usable && i < theirs->size(); ++i) {
            char c = (*theirs)[i];
            usable = c > 0x20 && c < 0x7f && c != '"' && c != '\\';
        }
        if (usable) {
            std::memcpy(requestId_, theirs->data(), theirs->size());
            req_.requestIdLen = static_cast<std::uint8_t>(theirs->size());
        } else {
            req_.requestIdLen = static_cast<std::uint8_t>(worker_.makeRequestId(requestId_));
        }
    }
    return {requestId_, req_.requestIdLen};
}

// --- answers from memory ----------------------------------------------------------------------

// One of frontcache's own answers (http::cannedResponse), whole: to a HEAD without its body — the
// head says the length a GET would get (RFC 9110 §9.3.2), and a body after it would be read as
// the next response on a kept-alive connection.
void Exchange::writeCanned(int status, std::string out) {
    req_.status = status;
    setStep(Step::Deliver);
    if (req_.isHead)
        out.resize(out.find("\r\n\r\n") + 4);
    conn_.write(out);
    responseFinished();
}

void Exchange::deliverError(int status, const char *reason) {
    if (!req_.complete && req_.hasBody)
        req_.keepAlive = false;
    writeCanned(status, http::errorResponse(status, !req_.keepAlive, reason));
}

// [limits]: asked on the way to the upstream (misses and bypasses; hits never count). Over the
// client's budget: a stale copy when the lookup found one, else 429 with Retry-After; in dry-run
// mode only counted. True when the request was answered here.
bool Exchange::overBudget() {
    const config::LimitsConfig &l = worker_.config().limits;
    ClientBudget *budget = worker_.cache().budget;
    if (!budget || !l.enabled() || req_.budgetChecked)
        return false;
    req_.budgetChecked = true;
    const auto ua = head().headers.get("user-agent");
    const ClientBudget::Verdict v = budget->check(l, req_.client, ua ? *ua : std::string_view(),
                                                  static_cast<std::int64_t>(uv_hrtime() / 1000));
    if (!v.over)
        return false;
    auto &counters = worker_.counters();
    const std::string_view cls = ClientBudget::className(l, v.cls);
    char who[128];
    const int n = std::snprintf(who, sizeof who, "%.*s %.*s", static_cast<int>(req_.client.size()),
                                req_.client.data(), static_cast<int>(cls.size()), cls.data());
    worker_.urlSampler().recordLimited(
        {who, std::min(static_cast<std::size_t>(std::max(n, 0)), sizeof who - 1)});
    if (l.dryRun) {
        counters.inc(counters.limitedDryRun);
        FC_DEBUG("client %s over its [limits] budget (%s; dry run)", who, cls.data());
        return false;
    }
    // A stale copy within the window it may be served at all (grace or stale-if-error): not one
    // kept only to be revalidated (must-revalidate, no-cache: RFC 9111 §4.2.4).
    cache::PageView view;
    const std::int64_t now = worker_.cache().clock->now();
    if (stale_ && cache::decodePage(stale_->value(), view) &&
        (view.inGrace(now) || view.usableOnError(now))) {
        cache::ItemRef page = std::move(stale_);
        deliverPage(std::move(page), CacheStatus::StaleLimited);
        return true;
    }
    if (!req_.complete && req_.hasBody)
        req_.keepAlive = false; // the rest of the body is not read
    req_.cacheStatus = CacheStatus::Limited;
    counters.inc(counters.limitedRefused);
    writeCanned(429, http::cannedResponse(429, "text/plain; charset=utf-8",
                                          "Too many requests from this client: over its budget.\n",
                                          !req_.keepAlive, (v.retryAfterMs + 999) / 1000));
    return true;
}

// upstream.unavailable_page: the app cannot be reached and no stale copy stands in (the fetch
// answers with one when it can): the operator's page, 503 with Retry-After, never stored.
void Exchange::deliverUnavailable() {
    const config::UpstreamConfig &u = worker_.config().upstream;
    if (!req_.complete && req_.hasBody)
        req_.keepAlive = false;
    worker_.counters().inc(worker_.counters().unavailablePages);
    writeCanned(503, http::cannedResponse(503, u.unavailableType, *u.unavailableBody,
                                          !req_.keepAlive, u.unavailableRetryAfter.count() / 1000));
}

// The representation a client gets of a page in several codings (cache/page/compress.h), counted.
const cache::PageRepresentation &Exchange::representationFor(const cache::PageView &v,
                                                             bool notModified) {
    if (v.repCount <= 1)
        return v.reps[0];
    auto &counters = worker_.counters();
    const cache::PageRepresentation &rep =
        v.reps[cache::chooseRepresentation(v, head().headers.get("accept-encoding"))];
    counters.inc(counters.codedAnswers[static_cast<int>(rep.coding)]);
    for (std::size_t i = 0; i < v.repCount; ++i)
        if (v.reps[i].coding == http::Coding::Identity && !notModified && !req_.isHead &&
            v.reps[i].body.size() > rep.body.size())
            counters.inc(counters.codingSavedBytes, v.reps[i].body.size() - rep.body.size());
    return rep;
}

// A single range of a stored 200 (RFC 9110 §14): the 206 or 416 head in rangeHead_, and the
// body to send — that slice of the item, or nothing.
std::string_view Exchange::rangeAnswer(const http::ByteRange &range,
                                       const cache::PageRepresentation &rep) {
    rangeHead_.clear();
    char n1[24], n2[24], n3[24];
    auto num = [](char *b, std::uint64_t x) {
        return std::string_view(b, static_cast<std::size_t>(std::to_chars(b, b + 24, x).ptr - b));
    };
    if (range.kind == http::ByteRange::Kind::Unsatisfiable) {
        rangeHead_.append("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */");
        rangeHead_.append(num(n1, rep.body.size()));
        rangeHead_.append("\r\nContent-Length: 0\r\n");
        return {};
    }
    // The stored fields but the status line and Content-Length, then the range's.
    rangeHead_.append("HTTP/1.1 206 Partial Content\r\n");
    http::forEachHeadField(rep.head,
                           [&](std::string_view name, std::string_view, std::string_view line) {
                               if (!http::equalsIgnoreCase(name, "content-length"))
                                   rangeHead_.append(line);
                           });
    rangeHead_.append("Content-Range: bytes ");
    rangeHead_.append(num(n1, range.first));
    rangeHead_.push_back('-');
    rangeHead_.append(num(n2, range.last));
    rangeHead_.push_back('/');
    rangeHead_.append(num(n3, rep.body.size()));
    rangeHead_.append("\r\nContent-Length: ");
    std::string_view body = rep.body.substr(range.first, range.last - range.first + 1);
    rangeHead_.append(num(n1, body.size()));
    rangeHead_.append("\r\n");
    return body;
}

// The per-answer fields of a page (dynHead_, reused: no allocation once warm): the 304 status
// line and its fields when the client's validators match, Age, the cache status fields,
// Connection, the blank line.
void Exchange::pageFields(const cache::PageView &v, const cache::PageRepresentation &rep,
                          CacheStatus status, bool notModified, std::string_view key) {
    const CacheContext &cc = worker_.cache();
    const std::int64_t now = cc.clock->now();
    dynHead_.clear();
    if (notModified) {
        // 304 carries the validators and caching fields of the stored response, no body.
        dynHead_.append("HTTP/1.1 304 Not Modified\r\n");
        cache::appendNotModifiedFields(rep.head, dynHead_);
    }
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, v.age(now));
    dynHead_.append("Age: ");
    dynHead_.append(num, static_cast<std::size_t>(r.ptr - num));
    dynHead_.append("\r\n");
    CacheStatusParams params;
    if (status == CacheStatus::Miss) { // a page just stored by this request's own fetch
        params.fwd = req_.fwdReason;
        params.fwdStatus = v.status;
        params.stored = true;
    } else {
        params.hasTtl = true;
        params.ttl = v.freshUntil() - now;
    }
    params.collapsed = req_.waitedForFill;
    if (cc.cacheStatusKey)
        params.key = key;
    appendCacheStatusFields(dynHead_, status, ruleDetail(), cc.statusHeader, cc.cacheStatus,
                            params);
    if (!req_.keepAlive)
        dynHead_.append("Connection: close\r\n");
    else if (head().versionMinor == 0)
        dynHead_.append("Connection: keep-alive\r\n");
    dynHead_.append("\r\n");
}

// A page answer: [stored head][Age, status fields, Connection, blank line][body] in one writev
// from the item's memory; a 304 instead when the client's validators match.
void Exchange::deliverPage(cache::ItemRef page, CacheStatus status) {
    auto &counters = worker_.counters();
    cache::PageView v;
    if (!page || !cache::decodePage(page->value(), v)) { // never stored by us: not servable
        deliverError(502, "stored page unreadable");
        return;
    }
    setStep(Step::Deliver);
    const bool notModified = cache::clientNotModified(head().headers, v);
    const cache::PageRepresentation &rep = representationFor(v, notModified);
    // An If-Range that does not match, or several ranges, get the whole page.
    http::ByteRange range;
    if (req_.wantsRange && !notModified && !req_.isHead && v.status == 200 &&
        http::ifRangeAllows(ifRange_, v.etag, v.lastModified))
        range = http::parseRange(range_, rep.body.size());
    const bool ranged = range.kind != http::ByteRange::Kind::Ignore;
    const std::string_view body = ranged ? rangeAnswer(range, rep) : rep.body;
    pageFields(v, rep, status, notModified, page->key());

    std::string_view parts[3];
    std::size_t n = 0;
    unsigned inItem = 0;
    std::uint64_t bytes = dynHead_.size();
    if (ranged) {
        parts[n++] = rangeHead_;
        bytes += rangeHead_.size();
    } else if (!notModified) {
        parts[n] = rep.head;
        inItem |= 1u << n++;
        bytes += rep.head.size();
    }
    parts[n++] = dynHead_;
    if (!notModified && !req_.isHead && !body.empty()) {
        parts[n] = body;
        inItem |= 1u << n++;
        bytes += body.size();
    }
    const CacheStatusInfo &si = info(status);
    if (notModified)
        counters.inc(counters.notModified);
    if (si.countedOnServe && si.counter && !(notModified && status == CacheStatus::Hit))
        counters.inc(counters.*si.counter);
    counters.inc(counters.bytesFromCache, bytes);
    req_.status = notModified                                          ? 304
                  : range.kind == http::ByteRange::Kind::Satisfiable   ? 206
                  : range.kind == http::ByteRange::Kind::Unsatisfiable ? 416
                                                                       : v.status;
    req_.cacheStatus = status;
    if (!conn_.writeHeld(parts, n, inItem, std::move(page)))
        return; // the connection failed and is closing
    responseFinished();
}

// PURGE on the public port (Varnish's convention): only from admin.allow_purge_from, and only
// for the Host it is sent to (or the authority of an absolute-form target).
void Exchange::purge(const http::RequestHead &h) {
    const CacheContext &cc = worker_.cache();
    req_.cacheStatus = CacheStatus::Purge;
    setStep(Step::Deliver);
    if (h.hasBody())
        req_.keepAlive = false;
    bool allowed = false;
    for (const auto &a : cc.allowPurgeFrom)
        allowed = allowed || a == req_.client;
    if (!allowed) {
        req_.status = 405;
        conn_.write(http::errorResponse(
            405, !req_.keepAlive, "PURGE is accepted only from admin.allow_purge_from addresses"));
        responseFinished();
        return;
    }
    const http::TargetParts t = http::splitTarget(h.target);
    std::string host(t.absolute() ? t.authority : h.headers.get("host").value_or(""));
    // Soft-Purge: 1 marks the pages expired instead (served stale while one fetch renews each).
    auto softHeader = h.headers.get("soft-purge");
    const bool soft = softHeader && http::trimOws(*softHeader) == "1";
    PurgeOutcome o;
    if (h.headers.has("cache-group-invalidation")) { // by group, on this host (cache/groups.h)
        std::vector<std::string> groups;
        cache::GroupTally tally;
        if (host.empty() || // never every host from the public port
            !cache::invalidationGroups(h.headers, "cache-group-invalidation", groups, tally) ||
            groups.empty()) {
            req_.status = 400;
            conn_.write(http::errorResponse(
                400, !req_.keepAlive, "Cache-Group-Invalidation: expected a list of strings"));
            responseFinished();
            return;
        }
        o = proxy::purgeGroups(worker_.loop(), cc, groups, host, soft, worker_.counters());
    } else {
        o = proxy::purge(worker_.loop(), cc, {std::string(t.originPath())}, host, soft,
                         worker_.counters());
    }
    req_.status = 200;
    conn_.write(
        http::cannedResponse(200, "application/json", purgeAnswer(o, soft), !req_.keepAlive));
    responseFinished();
}

// --- the end ------------------------------------------------------------------------------------

void Exchange::logExchange() {
    AccessLog &log = worker_.accessLog();
    if (!log.enabled())
        return;
    const http::RequestHead &req = head();
    std::string_view server = "-";
    if (req_.upstreamServer >= 0)
        server =
            worker_.cache().balancer->target(static_cast<std::size_t>(req_.upstreamServer)).display;
    AccessLogEntry e;
    e.client = req_.client;
    e.method = req.method;
    e.target = req.target;
    e.versionMinor = req.versionMinor;
    e.status = req_.status;
    e.bytes = conn_.bytesOut();
    e.cacheStatus = info(req_.cacheStatus).word;
    e.upstreamUs = req_.upstreamUs;
    e.server = server;
    e.totalUs = static_cast<std::int64_t>(uv_hrtime() / 1000 - req_.startUs);
    e.requestId = requestId();
    log.add(e);
}

} // namespace fc::proxy
