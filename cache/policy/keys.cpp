#define OPENSSL_SUPPRESS_DEPRECATED
#include "cache/policy/keys.h"

#include <openssl/md5.h>

#include <algorithm>

#include "cache/policy/http.h"
#include "cache/policy/request.h"
#include "http/rewrite.h"

namespace fc::cache {

namespace {
// MD5 through libcrypto's one-shot low-level interface: the state lives on the stack. The EVP
// interface allocates a provider context on every digest in OpenSSL 3 (measured: 3 mallocs per
// cache hit, one per key), and keys are computed on every hit. The low-level calls are
// deprecated in OpenSSL 3 but still shipped; OPENSSL_SUPPRESS_DEPRECATED (top of file) says
// we use them on purpose.
void appendMd5Hex(std::string &out, std::string_view data) {
    unsigned char md[MD5_DIGEST_LENGTH];
    MD5(reinterpret_cast<const unsigned char *>(data.data()), data.size(), md);
    const unsigned len = MD5_DIGEST_LENGTH;
    static const char *hex = "0123456789abcdef";
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
}

// A request header's value as Django's request.META[name] would hold it (WSGI joins repeated
// fields with ','); false when absent. `metaName` is "HTTP_ACCEPT_ENCODING"-style. With
// `wsgiNames` false (http mode: an application that reads names exactly), a field whose name
// has '_' is not the field spelt with '-' (server.underscores_in_headers keeps such fields).
bool metaValue(const http::HeaderList &h, std::string_view metaName, std::string &out,
               bool wsgiNames = true) {
    if (metaName.substr(0, 5) != "HTTP_")
        return false;
    std::string_view want = metaName.substr(5);
    // WSGI puts Content-Type / Content-Length in CONTENT_TYPE / CONTENT_LENGTH, never HTTP_*, so
    // Django keys `Vary: Content-Type` as absent — yet the application reads the field. Keyed
    // here as sent (stricter than Django, never looser).
    bool found = false;
    h.forEach([&](std::string_view n, std::string_view v) {
        if (n.size() != want.size() || (!wsgiNames && n.find('_') != std::string_view::npos))
            return;
        for (std::size_t i = 0; i < n.size(); ++i) {
            char c = n[i] == '-' ? '_'
                                 : static_cast<char>(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
            if (c != want[i])
                return;
        }
        if (found)
            out.push_back(',');
        out.append(v);
        found = true;
    });
    return found;
}
} // namespace

void absoluteUri(const http::RequestHead &req, const PolicyConfig &cfg, std::string &out,
                 std::string_view scheme, bool queryInKey) {
    std::string_view t = req.target;
    if (http::splitTarget(t).absolute()) {
        out.append(t);
    } else {
        out.append(scheme);
        out.append("://");
        if (auto host = req.headers.get("host"))
            out.append(*host);
        out.append(t);
    }
    if (!cfg.queryInKey &&
        !queryInKey) { // bypass mode: an empty "?" does not make a different page
        std::size_t q = out.find('?');
        if (q != std::string::npos)
            out.resize(q);
    }
}

void headerKey(const PolicyConfig &cfg, std::string_view uri, std::string &out) {
    out.append("views.decorators.cache.cache_header.");
    out.append(cfg.keyPrefix);
    out.push_back('.');
    appendMd5Hex(out, uri);
}

namespace {
// What Accept-Encoding contributes to a page key. A stored copy always holds an identity
// representation besides its codings (PageFill refuses to store one that cannot), and each hit
// picks the coding (chooseRepresentation): the raw field, which differs per browser, would only
// split the page. No other element starts with \x01 (see pageKey).
constexpr std::string_view kNegotiatedCoding = "\x01negotiated,";
} // namespace

void pageKey(const PolicyConfig &cfg, std::string_view method, std::string_view uri,
             std::string_view headerList, const http::HeaderList &req, std::string &out,
             std::string_view extra) {
    // The varied values, each one unambiguous: "=" value "\n" when present (a value never holds
    // a LF: the parser refuses one), "-\n" when absent. Django concatenates the bare values, so
    // two headers can trade bytes: "Accept-Language: fr-" with "Cookie: ," hashes like
    // "Accept-Language: fr" without a cookie, and one request would store its page for every
    // such visitor. (Pages that vary on nothing keep Django's key exactly: md5 of "".)
    thread_local std::string values, raw; // reused: no allocation per hit once warm
    values.clear();
    while (!headerList.empty()) {
        std::size_t comma = headerList.find(',');
        std::string_view name = headerList.substr(0, comma);
        raw.clear();
        if (name == "HTTP_ACCEPT_ENCODING") {
            values.append(
                kNegotiatedCoding); // one entry serves every coding (cache/page/compress.h)
        } else if (!metaValue(req, name, raw, cfg.mode == Mode::Django)) {
            values.append("-\n");
        } else {
            values.push_back('=');
            if (cfg.mode == Mode::Http) // RFC 9111 §4.1: compared after normalisation
                normalizeVaryValue(name, raw, values);
            else
                values.append(raw);
            values.push_back('\n');
        }
        if (comma == std::string_view::npos)
            break;
        headerList.remove_prefix(comma + 1);
    }
    // Fields that override the request (http::isKeyedOverride: a trusted proxy's
    // X-Forwarded-Host, -Port, -Prefix..., X-HTTP-Method-Override) key every page they come
    // with, whatever its Vary says: frameworks build pages from them without saying so. "\x02"
    // starts no other element; without any, the key is unchanged.
    req.forEach([&](std::string_view n, std::string_view v) {
        if (!http::isKeyedOverride(n))
            return;
        values.push_back('\x02');
        for (char c : n)
            values.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
        values.push_back(':');
        values.append(v);
        values.push_back('\n');
    });
    values.append(extra);
    out.append("views.decorators.cache.cache_page.");
    out.append(cfg.keyPrefix);
    out.push_back('.');
    out.append(method);
    out.push_back('.');
    appendMd5Hex(out, uri);
    out.push_back('.');
    appendMd5Hex(out, values);
}

void variedValues(std::string_view headerList, const http::HeaderList &req, std::string &out) {
    std::string value;
    while (!headerList.empty()) {
        std::size_t comma = headerList.find(',');
        std::string_view name = headerList.substr(0, comma);
        value.clear();
        out.append(name);
        out.append(": ");
        if (name == "HTTP_ACCEPT_ENCODING") {
            out.append("(any: the coding is chosen per request)");
        } else if (!metaValue(req, name, value)) {
            out.append("(absent)");
        } else if (name == "HTTP_COOKIE") {
            bool first = true;
            forEachCookiePair(value, [&](std::string_view cookie, std::string_view pair) {
                std::size_t eq = pair.find('=');
                if (!first)
                    out.append("; ");
                first = false;
                out.append(cookie);
                out.append("=#");
                std::string h;
                appendMd5Hex(h, eq == std::string_view::npos ? "" : pair.substr(eq + 1));
                out.append(h, 0, 8);
                return true;
            });
        } else {
            out.append(value);
        }
        out.push_back('\n');
        if (comma == std::string_view::npos)
            break;
        headerList.remove_prefix(comma + 1);
    }
    if (out.size() > 4096)
        out.resize(4096);
}

bool varyHeaderList(const http::HeaderList &resp, std::string &out) {
    std::vector<std::string> names;
    bool star = false;
    http::forEachVary(resp, [&](std::string_view h) {
        if (h == "*")
            star = true;
        std::string m = "HTTP_";
        for (char c : h)
            m.push_back(c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
        names.push_back(std::move(m));
    });
    if (star)
        return false;
    std::sort(names.begin(), names.end());
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i)
            out.push_back(',');
        out.append(names[i]);
    }
    return true;
}

} // namespace fc::cache
