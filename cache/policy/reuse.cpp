#include "cache/policy/reuse.h"

#include "http/cache_control.h"
#include "http/date.h"

namespace fc::cache {

bool hasValidators(const PageView &stored) {
    return !stored.etag.empty() || stored.lastModified != 0;
}

bool hasClientValidators(const http::HeaderList &req) {
    return req.has("if-none-match") || req.has("if-modified-since");
}

bool revalidates(const PageView &stored, const http::RequestHead &req) {
    return req.method == "GET" && !hasClientValidators(req.headers) && hasValidators(stored);
}

void appendValidators(const PageView &stored, std::string &head) {
    std::string add;
    if (!stored.etag.empty()) {
        add.append("If-None-Match: ");
        add.append(stored.etag);
        add.append("\r\n");
    }
    if (stored.lastModified != 0) {
        char date[http::kHttpDateLen];
        http::formatHttpDate(stored.lastModified, date);
        add.append("If-Modified-Since: ");
        add.append(date, sizeof date);
        add.append("\r\n");
    }
    head.insert(head.size() - 2, add); // before the blank line
}

void stripClientConditionals(http::RequestHead &req) {
    for (std::string_view h : {"if-none-match", "if-modified-since", "if-match",
                               "if-unmodified-since", "if-range", "range"})
        req.headers.remove(h);
}

bool clientNotModified(const http::HeaderList &req, const PageView &stored) {
    if (auto inm = req.get("if-none-match"))
        return http::ifNoneMatchMatches(*inm, stored.etag);
    if (auto ims = req.get("if-modified-since")) {
        auto t = http::parseHttpDate(*ims);
        return t && stored.lastModified != 0 && stored.lastModified <= *t;
    }
    return false;
}

void appendNotModifiedFields(std::string_view storedHead, std::string &out) {
    http::forEachHeadField(
        storedHead, [&](std::string_view name, std::string_view, std::string_view line) {
            for (std::string_view keep : {"etag", "last-modified", "cache-control", "expires",
                                          "vary", "date", "content-location"})
                if (http::equalsIgnoreCase(name, keep)) {
                    out.append(line.substr(0, line.find("\r\n")));
                    out.append("\r\n");
                }
        });
}

bool marksPass(NotStored why, int status) {
    switch (why) {
    case NotStored::Status: // a 206 answers one request's range; the page itself may be storable
        return status < 500 && status != 206;
    case NotStored::SetCookie:
    case NotStored::Private:
    case NotStored::NoStore:
    case NotStored::NoCache:
    case NotStored::VaryStar:
    case NotStored::VaryName:
    case NotStored::ZeroTtl:
    case NotStored::TooBig:
    case NotStored::Coding:
        return true;
    default:
        return false;
    }
}

} // namespace fc::cache
