// The one HTTP client of the tools (`frontcache top`, `frontcache warm` and the sitemaps it
// fetches): blocking sockets with a timeout, a request written whole, the response read with the
// proxy's own http::ResponseParser — so a tool frames an answer exactly as the server does, and
// there is one place that knows how a tool talks HTTP.
//
// Ownership: an HttpClient owns its socket, closed by close() or its destructor.
// Threading: a client is used by one thread at a time (warm gives each connection thread its
// own); the free functions are safe on any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/headers.h"

namespace fc::tools {

struct HostPort {
    std::string host; // without the brackets of an IPv6 literal
    std::string port;
};

// "host:port" or "[v6]:port"; `defaultPort` when no port is given (nullptr: one is required).
std::optional<HostPort> splitHostPort(std::string_view hp, const char *defaultPort);

// "GET target HTTP/1.1", Host, then `fields` (whole lines, each ending in CRLF), then the blank
// line.
std::string getRequest(std::string_view target, std::string_view host,
                       std::string_view fields = {});

struct HttpReply {
    int status = 0;
    bool keepAlive = true;
    http::HeaderList headers; // of the final response
    std::string body;         // kept only when the client was given a body limit
};

class HttpClient {
public:
    // `timeoutSeconds` bounds the connect and each send and receive. `maxBody`: bodies up to
    // this size are kept in HttpReply::body, larger ones fail ("too large"); 0: bodies are read
    // and dropped.
    HttpClient(HostPort server, double timeoutSeconds, std::size_t maxBody = 0);
    ~HttpClient();
    HttpClient(const HttpClient &) = delete;
    HttpClient &operator=(const HttpClient &) = delete;

    // Opens the connection unless one is open. "" on success, else what went wrong: "refused",
    // "connect timeout", "cannot resolve HOST: …" or "connect: …".
    std::string connect();

    // Sends `request` (a whole head, no body) and reads its response into `reply`. The
    // connection is kept when the response allows it, else closed; a kept-alive connection the
    // server had closed before answering is opened again, once. "" on success, else what went
    // wrong: a connect() error, "send failed", "timeout", "reset", "closed", "closed
    // mid-response", "bad response: …" or "too large".
    std::string roundTrip(std::string_view request, HttpReply &reply);

    void close();

private:
    std::string exchangeOnce(std::string_view request, HttpReply &reply, bool &sawByte);

    HostPort server_;
    double timeout_;
    std::size_t maxBody_;
    int fd_ = -1;
};

// GETs an http:// URL whole on a connection of its own (at most `maxBody` bytes of body). "" on
// success, else why: an https:// URL is refused (the tools speak plain HTTP), an answer other
// than 200 is "HTTP <status>".
std::string httpGet(const std::string &url, double timeoutSeconds, std::size_t maxBody,
                    std::string_view userAgent, std::string &body);

} // namespace fc::tools
