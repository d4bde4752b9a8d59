#include "http/rewrite.h"

#include <sys/socket.h>

#include <array>
#include <cstdio>

#include <openssl/evp.h>

#include "http/forwarded.h"

namespace fc::http {

namespace {

constexpr std::array<std::string_view, 9> kHopByHop = {
    "connection",       "keep-alive",          "te",
    "trailer",          "transfer-encoding",   "upgrade",
    "proxy-connection", "proxy-authorization", "proxy-authenticate"};

void appendField(std::string &out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

void appendNumber(std::string &out, std::uint64_t v) {
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
    out.append(buf, static_cast<size_t>(n));
}

} // namespace

namespace {
// Every Connection field's value, so each field name is checked against them without rescanning
// the whole header list (which made rewriting quadratic in the number of fields).
struct ConnectionTokens {
    std::string_view values[4];
    size_t count = 0;
    bool overflow = false;
    const HeaderList *headers;

    explicit ConnectionTokens(const HeaderList &h) : headers(&h) {
        h.forEach([&](std::string_view n, std::string_view v) {
            if (!equalsIgnoreCase(n, "connection"))
                return;
            if (count < 4)
                values[count++] = v;
            else
                overflow = true;
        });
    }
    bool lists(std::string_view name) const {
        for (size_t i = 0; i < count; ++i)
            if (listContains(values[i], name))
                return true;
        if (overflow) {
            bool found = false;
            headers->forEach([&](std::string_view n, std::string_view v) {
                found = found || (equalsIgnoreCase(n, "connection") && listContains(v, name));
            });
            return found;
        }
        return false;
    }
};

bool isHopByHop(std::string_view name, const ConnectionTokens &conn) {
    for (auto h : kHopByHop)
        if (equalsIgnoreCase(name, h))
            return true;
    return conn.lists(name);
}
} // namespace

bool isHopByHop(std::string_view name, const HeaderList &headers) {
    return isHopByHop(name, ConnectionTokens(headers));
}

namespace {
bool isUnreservedOrSubDelim(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~': // unreserved
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+': // sub-delims
    case ',':
    case ';':
    case '=':
        return true;
    default:
        return false;
    }
}
bool isHex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
} // namespace

namespace {
constexpr std::string_view kProxyClaims[] = {
    "forwarded",       "x-forwarded-host",   "x-forwarded-port", "x-forwarded-prefix",
    "x-forwarded-ssl", "x-forwarded-scheme", "front-end-https",  "x-url-scheme",
    "x-original-url",  "x-rewrite-url"};
constexpr std::string_view kMethodOverrides[] = {"x-http-method-override", "x-http-method",
                                                 "x-method-override"};
// Names frontcache reads or writes itself: spelt with '_' they would reach a WSGI application
// as the same META name (server.underscores_in_headers keeps other such names).
constexpr std::string_view kOurs[] = {"host",
                                      "content-length",
                                      "transfer-encoding",
                                      "connection",
                                      "upgrade",
                                      "expect",
                                      "via",
                                      "x-forwarded-for",
                                      "x-forwarded-proto",
                                      "x-request-id",
                                      "keep-alive",
                                      "proxy-connection",
                                      "proxy-authorization",
                                      "content-type"};

template <std::size_t N> bool listed(const std::string_view (&names)[N], std::string_view n) {
    for (std::string_view name : names)
        if (equalsIgnoreCase(n, name))
            return true;
    return false;
}

// `n`, read as WSGI reads it ('_' is '-'), names a field frontcache reads, writes or keys.
bool spellsOneWeRead(std::string_view n) {
    char folded[64];
    if (n.size() > sizeof folded)
        return false;
    for (std::size_t i = 0; i < n.size(); ++i)
        folded[i] = n[i] == '_' ? '-' : n[i];
    const std::string_view f(folded, n.size());
    return listed(kOurs, f) || listed(kProxyClaims, f) || listed(kMethodOverrides, f);
}
} // namespace

bool isProxyClaim(std::string_view name) {
    return listed(kProxyClaims, name);
}

bool isKeyedOverride(std::string_view name) {
    return (listed(kProxyClaims, name) && !equalsIgnoreCase(name, "forwarded")) ||
           listed(kMethodOverrides, name);
}

bool isValidAuthority(std::string_view a) {
    std::size_t hostEnd = 0;
    if (!a.empty() && a.front() == '[') { // IP-literal: an IPv6 address (no zone, no IPvFuture)
        hostEnd = a.find(']');
        if (hostEnd == std::string_view::npos ||
            !isAddressLiteral(a.substr(1, hostEnd - 1), AF_INET6))
            return false;
        ++hostEnd;
    } else {
        while (hostEnd < a.size() && a[hostEnd] != ':') {
            const auto c = static_cast<unsigned char>(a[hostEnd]);
            if (c == '%') { // pct-encoded
                if (hostEnd + 2 >= a.size() || !isHex(static_cast<unsigned char>(a[hostEnd + 1])) ||
                    !isHex(static_cast<unsigned char>(a[hostEnd + 2])))
                    return false;
                hostEnd += 3;
                continue;
            }
            if (!isUnreservedOrSubDelim(c))
                return false;
            ++hostEnd;
        }
        if (hostEnd == 0)
            return false;
    }
    if (hostEnd == a.size())
        return true;
    if (a[hostEnd] != ':')
        return false;
    for (char c : a.substr(hostEnd + 1))
        if (c < '0' || c > '9')
            return false;
    return true;
}

Refusal prepareForwarding(RequestHead &req, const ForwardRules &rules) {
    // The fields Connection names (RFC 9110 §7.6.1), from every Connection field: its options
    // that are not field names of their own (close), or are taken out anyway (keep-alive), or
    // stay for what reads them (Connection itself; Upgrade, never forwarded: it is hop-by-hop)
    // are not collected, so the usual "Connection: keep-alive" costs no per-field check.
    std::string_view named[16];
    std::size_t nNamed = 0;
    bool framingHopByHop = false, tooMany = false;
    req.headers.forEach([&](std::string_view n, std::string_view v) {
        if (!equalsIgnoreCase(n, "connection"))
            return;
        forEachListMember(v, [&](std::string_view m) {
            framingHopByHop = framingHopByHop || equalsIgnoreCase(m, "host") ||
                              equalsIgnoreCase(m, "content-length") ||
                              equalsIgnoreCase(m, "transfer-encoding");
            if (equalsIgnoreCase(m, "close") || equalsIgnoreCase(m, "keep-alive") ||
                equalsIgnoreCase(m, "upgrade") || equalsIgnoreCase(m, "connection"))
                return;
            if (nNamed == std::size(named))
                tooMany = true;
            else
                named[nNamed++] = m;
        });
    });
    if (tooMany)
        return {400, "too many fields named in Connection"};
    if (framingHopByHop)
        return {400, "Connection names Host, Content-Length or Transfer-Encoding"};
    const TargetParts target = splitTarget(req.target);
    if (target.absolute() && !isValidAuthority(target.authority))
        return {400, "invalid authority in the request-target"};
    if (!target.absolute())
        if (auto host = req.headers.get("host"); host && !isValidAuthority(*host))
            return {400, "invalid Host header"};

    static constexpr std::string_view kFixed[] = {
        "keep-alive",       "te", "trailer", "proxy-connection", "proxy-authorization",
        "x-forwarded-proto"};
    req.headers.removeIf([&](std::string_view n, std::string_view) {
        for (std::string_view fixed : kFixed)
            if (equalsIgnoreCase(n, fixed))
                return true;
        if (n.find('_') != std::string_view::npos && (!rules.underscoreNames || spellsOneWeRead(n)))
            return true;
        if (!rules.trustedPeer && isProxyClaim(n))
            return true; // a client's own claim: never passed on, never keyed
        for (std::size_t k = 0; k < nNamed; ++k)
            if (equalsIgnoreCase(n, named[k]))
                return true;
        return false;
    });
    if (target.absolute()) { // RFC 9112 §3.2.2: the target's authority is the Host
        // Both views point into req.target: copied into the header list before it changes.
        req.headers.remove("host");
        req.headers.add("Host", target.authority);
        if (target.path.empty()) {
            req.target = "/";
        } else {
            const bool query = target.path.front() == '?'; // "http://h?q" is "/?q"
            req.target.erase(0, static_cast<std::size_t>(target.path.data() - req.target.data()));
            if (query)
                req.target.insert(0, 1, '/');
        }
    }
    req.headers.joinFields("X-Forwarded-For", rules.peer);
    return {};
}

bool isWebSocketUpgrade(const RequestHead &req) {
    if (!req.upgradeAsked || req.method != "GET" || req.versionMajor != 1 || req.versionMinor < 1 ||
        req.hasBody())
        return false;
    bool connection = false, websocket = false;
    req.headers.forEach([&](std::string_view n, std::string_view v) {
        if (equalsIgnoreCase(n, "connection"))
            connection = connection || listContains(v, "upgrade");
        else if (equalsIgnoreCase(n, "upgrade"))
            websocket = websocket || listContains(v, "websocket");
    });
    return connection && websocket && req.headers.count("sec-websocket-key") == 1;
}

bool webSocketAcceptMatches(const HeaderList &request, const HeaderList &response) {
    const auto key = request.get("sec-websocket-key");
    const auto accept = response.get("sec-websocket-accept");
    if (!key || !accept || response.count("sec-websocket-accept") != 1)
        return false;
    const std::string input =
        std::string(trimOws(*key)) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // RFC 6455 §1.3
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) != 1)
        return false;
    unsigned char expected[64];
    const int n = EVP_EncodeBlock(expected, digest, static_cast<int>(len));
    return trimOws(*accept) ==
           std::string_view(reinterpret_cast<char *>(expected), static_cast<std::size_t>(n));
}

void writeUpstreamRequest(const RequestHead &req, const ForwardInfo &fwd, std::string &out) {
    out.append(req.method);
    out.push_back(' ');
    out.append(req.target);
    out.append(" HTTP/1.1\r\n");

    bool sawHost = false;
    const ConnectionTokens conn(req.headers);
    req.headers.forEach([&](std::string_view n, std::string_view v) {
        if (isHopByHop(n, conn) || equalsIgnoreCase(n, "content-length") ||
            equalsIgnoreCase(n, "expect") || equalsIgnoreCase(n, "via") ||
            equalsIgnoreCase(n, "x-forwarded-proto"))
            return;
        if (!fwd.requestId.empty() && equalsIgnoreCase(n, "x-request-id"))
            return; // ours follows (the client's own when it was a usable one)
        sawHost = sawHost || equalsIgnoreCase(n, "host");
        appendField(out, n, v);
    });
    if (!sawHost) // HTTP/1.0 without Host: the upstream still needs one
        appendField(out, "Host", "localhost");
    // The scheme the key uses, and only that: a trusted peer's own field was read into it.
    appendField(out, "X-Forwarded-Proto", fwd.proto);
    if (!fwd.requestId.empty())
        appendField(out, "X-Request-Id", fwd.requestId);
    out.append("Via: "); // every Via field as one list, then ours (RFC 9110 §7.6.3)
    req.headers.forEach([&](std::string_view n, std::string_view v) {
        if (equalsIgnoreCase(n, "via") && !v.empty()) {
            out.append(v);
            out.append(", ");
        }
    });
    out.append(fwd.via);
    out.append("\r\n");
    if (fwd.upgrade)
        out.append("Connection: upgrade\r\nUpgrade: websocket\r\n");

    if (req.chunked) {
        out.append("Transfer-Encoding: chunked\r\n");
    } else if (req.contentLength > 0 ||
               (req.contentLength == 0 && req.method != "GET" && req.method != "HEAD")) {
        out.append("Content-Length: ");
        appendNumber(out, static_cast<std::uint64_t>(req.contentLength));
        out.append("\r\n");
    }
    out.append("\r\n");
}

BodyFraming chooseResponseFraming(const ResponseHead &resp, bool requestWasHead,
                                  const RequestHead &req) {
    if (requestWasHead || resp.status == 204 || resp.status == 304 ||
        (resp.status >= 100 && resp.status < 200))
        return BodyFraming::None;
    if (resp.contentLength >= 0)
        return BodyFraming::ContentLength;
    bool clientIs11 = req.versionMajor == 1 && req.versionMinor >= 1;
    return clientIs11 ? BodyFraming::Chunked : BodyFraming::Close;
}

void writeResponseHead(const ResponseHead &resp, bool dropLength, std::string_view via,
                       std::string &out) {
    out.append("HTTP/1.1 ");
    appendNumber(out, static_cast<std::uint64_t>(resp.status));
    out.push_back(' ');
    out.append(resp.reason.empty() ? reasonPhrase(resp.status) : std::string_view(resp.reason));
    out.append("\r\n");
    std::string_view upstreamVia;
    bool sawVia = false;
    const ConnectionTokens conn(resp.headers);
    resp.headers.forEach([&](std::string_view n, std::string_view v) {
        if (isHopByHop(n, conn))
            return;
        if (dropLength && equalsIgnoreCase(n, "content-length"))
            return;
        if (equalsIgnoreCase(n, "via")) {
            if (!sawVia)
                upstreamVia = v, sawVia = true;
            return;
        }
        appendField(out, n, v);
    });
    if (!via.empty()) {
        out.append("Via: ");
        if (sawVia && !upstreamVia.empty()) {
            out.append(upstreamVia);
            out.append(", ");
        }
        out.append(via);
        out.append("\r\n");
    } else if (sawVia) {
        appendField(out, "Via", upstreamVia);
    }
}

void writeClientResponse(const ResponseHead &resp, BodyFraming framing, bool keepAlive,
                         bool clientIs10, std::string_view via, std::string_view extra,
                         std::string &out) {
    // A 1xx has no content (RFC 9110 §8.6): a 101's Content-Length is not passed on.
    writeResponseHead(resp, framing != BodyFraming::None || resp.status == 101, via, out);
    switch (framing) {
    case BodyFraming::ContentLength:
        out.append("Content-Length: ");
        appendNumber(out, static_cast<std::uint64_t>(resp.contentLength));
        out.append("\r\n");
        break;
    case BodyFraming::Chunked:
        out.append("Transfer-Encoding: chunked\r\n");
        break;
    case BodyFraming::None:
    case BodyFraming::Close:
        break;
    }
    if (resp.status == 101)
        out.append("Connection: upgrade\r\nUpgrade: websocket\r\n");
    else if (!keepAlive)
        out.append("Connection: close\r\n");
    else if (clientIs10)
        out.append("Connection: keep-alive\r\n");
    out.append(extra);
    out.append("\r\n");
}

std::string_view reasonPhrase(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 103:
        return "Early Hints";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

std::string cannedResponse(int status, std::string_view contentType, std::string_view body,
                           bool close, std::int64_t retryAfter) {
    std::string out;
    out.reserve(160 + body.size());
    out.append("HTTP/1.1 ");
    appendNumber(out, static_cast<std::uint64_t>(status));
    out.push_back(' ');
    out.append(reasonPhrase(status));
    out.append("\r\nContent-Type: ");
    out.append(contentType);
    out.append("\r\nContent-Length: ");
    appendNumber(out, body.size());
    out.append("\r\n");
    if (status == 503 || status == 429) { // RFC 9110 §10.2.3, RFC 6585 §4
        out.append("Retry-After: ");
        appendNumber(out, static_cast<std::uint64_t>(retryAfter > 0 ? retryAfter : 0));
        out.append("\r\n");
    }
    if (status == 401) // RFC 9110 §11.6.1: a 401 names the scheme it wants
        out.append("WWW-Authenticate: Bearer realm=\"frontcache admin\"\r\n");
    if (close)
        out.append("Connection: close\r\n");
    out.append("\r\n");
    out.append(body);
    return out;
}

std::string errorResponse(int status, bool close, std::string_view detail) {
    std::string body;
    body.reserve(64 + detail.size());
    appendNumber(body, static_cast<std::uint64_t>(status));
    body.push_back(' ');
    body.append(reasonPhrase(status));
    if (!detail.empty()) {
        body.append(": ");
        body.append(detail);
    }
    body.push_back('\n');
    return cannedResponse(status, "text/plain; charset=utf-8", body, close);
}

void appendChunk(std::string &out, std::string_view piece) {
    if (piece.empty())
        return;
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%zx\r\n", piece.size());
    out.append(buf, static_cast<size_t>(n));
    out.append(piece);
    out.append("\r\n");
}

TargetParts splitTarget(std::string_view target) {
    TargetParts p;
    p.path = target;
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() > scheme.size() &&
            equalsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
            std::string_view rest = target.substr(scheme.size());
            std::size_t end = rest.find_first_of("/?");
            p.scheme = target.substr(0, scheme.size() - 3);
            p.authority = rest.substr(0, end);
            p.path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
            break;
        }
    }
    return p;
}

} // namespace fc::http
