// Incremental HTTP/1.1 parsers for requests (from clients) and responses (from the upstream),
// built on llhttp with every lenient flag off, plus HeadScanner for what llhttp 8.1.0 lets through.
//
// Push model: feed() runs llhttp over the bytes and calls the Sink synchronously as the head,
// body pieces and the end of the message are recognised. After a message completes the parser
// pauses: feed() returns Status::Paused with `consumed` pointing just past the message, and parses
// nothing more until resume() — this is how pipelined requests are answered strictly in order.
//
// Ownership: the parser does not own the Sink; the Sink must outlive calls to feed(). Body views
// passed to the Sink point into the caller's buffer and are valid only during the call.
// Threading: one parser per connection, used from the connection's loop thread only.
// Preconditions: a Sink callback must not destroy the parser.
#pragma once

#include <cstdint>
#include <llhttp.h>
#include <string_view>

#include "http/chunked.h"
#include "http/head_scanner.h"
#include "http/headers.h"

namespace fc::http {

enum class ParseStatus {
    NeedMore, // all bytes consumed, message not complete
    Paused,   // a message completed; call resume() before feeding the rest
    Error,    // errorStatus()/errorReason() say why; the connection must be closed
};

struct ParseResult {
    ParseStatus status;
    size_t consumed;
};

class RequestParser {
public:
    struct Limits {
        size_t maxHeadSize = 16 * 1024;
        size_t maxTargetSize = 8 * 1024;
        std::uint64_t maxBody = 100ull << 20;
    };
    class Sink {
    public:
        virtual ~Sink() = default;
        // The head is complete. Return false to stop parsing (the parser reports Error with
        // status 0, meaning the sink already decided what to answer).
        virtual bool onRequestHead(RequestHead &head) = 0;
        virtual void onRequestBody(std::string_view piece) = 0;
        virtual void onRequestComplete() = 0;
    };

    RequestParser(Sink &sink, Limits limits);
    RequestParser(const RequestParser &) = delete;
    RequestParser &operator=(const RequestParser &) = delete;

    ParseResult feed(const char *data, size_t len);
    void resume();
    // True between the first byte of a request and its completion.
    bool inMessage() const { return inMessage_; }
    // True while the head of the current request is still being received.
    bool inHead() const { return scanner_.inHead(); }

    int errorStatus() const { return errorStatus_; }
    const char *errorReason() const { return errorReason_; }
    RequestHead &head() { return head_; }

private:
    static int onMessageBegin(llhttp_t *p);
    static int onUrl(llhttp_t *p, const char *at, size_t len);
    static int onHeaderField(llhttp_t *p, const char *at, size_t len);
    static int onHeaderValue(llhttp_t *p, const char *at, size_t len);
    static int onHeaderValueComplete(llhttp_t *p);
    static int onHeadersComplete(llhttp_t *p);
    static int onBody(llhttp_t *p, const char *at, size_t len);
    static int onMessageComplete(llhttp_t *p);
    ParseResult fail(int status, const char *reason, size_t consumed);
    ParseResult decodeChunks(const char *data, size_t len, size_t done);
    void complete();

    llhttp_t parser_;
    llhttp_settings_t settings_;
    Sink &sink_;
    Limits limits_;
    HeadScanner scanner_;
    ChunkedDecoder chunked_;
    RequestHead head_;
    std::uint64_t bodyBytes_ = 0;
    bool inMessage_ = false;
    bool decodingChunks_ = false; // llhttp was told "no body": the chunks are ours (chunked.h)
    int errorStatus_ = 0;
    const char *errorReason_ = nullptr;
};

class ResponseParser {
public:
    class Sink {
    public:
        virtual ~Sink() = default;
        // A final (non-1xx) response head is complete. Return false to stop parsing.
        virtual bool onResponseHead(ResponseHead &head) = 0;
        // A 103 Early Hints arrived (RFC 8297): it may be passed on as an interim response.
        // Other 1xx are consumed here (100: frontcache answers 100-continue itself).
        virtual void onEarlyHints(ResponseHead &) {}
        virtual void onResponseBody(std::string_view piece) = 0;
        virtual void onResponseComplete() = 0;
    };

    ResponseParser(Sink &sink, size_t maxHeadSize);
    ResponseParser(const ResponseParser &) = delete;
    ResponseParser &operator=(const ResponseParser &) = delete;

    // Must be called before each response is parsed: HEAD responses carry no body
    // (RFC 9112 §6.3 rule 1). `upgrade`: the request was a WebSocket handshake, so a 101 whose
    // Upgrade lists "websocket" is its final response (any other 101 is an error): onResponseHead
    // gets it, feed() returns Paused with `consumed` just past its head — what follows is the
    // tunnel's, not HTTP — and upgraded() is true. onResponseComplete is not called for it.
    void start(bool requestWasHead, bool upgrade = false);
    ParseResult feed(const char *data, size_t len);
    // The upstream closed the connection. Completes a read-until-close body; otherwise returns
    // Error if a message was in progress (the response was cut short).
    ParseResult finish();
    bool inMessage() const { return inMessage_; }
    bool headReceived() const { return headDone_; }
    bool upgraded() const { return upgraded_; }

    int errorStatus() const { return errorStatus_; }
    const char *errorReason() const { return errorReason_; }
    ResponseHead &head() { return head_; }

private:
    static int onMessageBegin(llhttp_t *p);
    static int onStatus(llhttp_t *p, const char *at, size_t len);
    static int onHeaderField(llhttp_t *p, const char *at, size_t len);
    static int onHeaderValue(llhttp_t *p, const char *at, size_t len);
    static int onHeaderValueComplete(llhttp_t *p);
    static int onHeadersComplete(llhttp_t *p);
    static int onBody(llhttp_t *p, const char *at, size_t len);
    static int onMessageComplete(llhttp_t *p);
    ParseResult fail(const char *reason, size_t consumed);
    // Checks a final response head frontcache can frame and forward; the reason if not.
    static const char *checkHead(const ResponseHead &h, const llhttp_t *p);

    llhttp_t parser_;
    llhttp_settings_t settings_;
    Sink &sink_;
    HeadScanner scanner_;
    ChunkedDecoder chunked_;
    ResponseHead head_;
    bool requestWasHead_ = false;
    bool informational_ = false;  // current message is a 1xx, skipped
    bool upgradeAsked_ = false;   // start(_, true): a 101 may end the HTTP part
    bool upgraded_ = false;       // ... and did
    bool decodingChunks_ = false; // the body is chunked and decoded here (chunked.h)
    std::uint8_t interims_ = 0;   // 1xx responses before the final one
    bool inMessage_ = false;
    bool headDone_ = false;
    int errorStatus_ = 0;
    const char *errorReason_ = nullptr;
};

} // namespace fc::http
