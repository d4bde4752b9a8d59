// Reusing a stored page (RFC 9111 §4, RFC 9110 §13): when an expired copy is validated with the
// upstream instead of fetched again and with which validators, which request fields are the
// client's own conditionals, when a client's conditional GET is answered 304 from the store and
// which fields that 304 carries, and which not-stored outcomes mark a key hit-for-miss.
//
// These are the cache's rules; proxy/ only applies them (docs/architecture.md, "Where each
// rule lives"). Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "cache/page/page.h"
#include "cache/policy/policy.h"
#include "http/headers.h"

namespace fc::cache {

// Does the stored page carry a validator (ETag or Last-Modified) to revalidate it with?
bool hasValidators(const PageView &stored);

// Did the client send validators of its own (If-None-Match / If-Modified-Since)? Those are for
// the client's copy, not ours: a request carrying them is passed through, never revalidated
// with our validators.
bool hasClientValidators(const http::HeaderList &req);

// RFC 9111 §4.3.1: an expired copy is revalidated (our If-None-Match / If-Modified-Since go
// upstream) for a GET whose client sent no validators of its own, when the copy has validators.
bool revalidates(const PageView &stored, const http::RequestHead &req);

// Adds If-None-Match / If-Modified-Since for `stored` to a request head that ends with its blank
// line (RFC 9111 §4.3.1: validating a stored response).
void appendValidators(const PageView &stored, std::string &head);

// A background refresh asks for the page itself: the client's conditional and range fields
// (If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since, If-Range, Range) are
// removed from its copy of the request.
void stripClientConditionals(http::RequestHead &req);

// RFC 9110 §13.1.2, §13.1.3 (If-None-Match wins over If-Modified-Since): is the client's
// conditional GET answered 304 Not Modified from `stored`?
bool clientNotModified(const http::HeaderList &req, const PageView &stored);

// RFC 9110 §15.4.5: the fields a 304 answered from the store carries — the stored response's
// ETag, Last-Modified, Cache-Control, Expires, Vary, Date and Content-Location lines (each with
// its CRLF) — appended from `storedHead` (status line first, as stored).
void appendNotModifiedFields(std::string_view storedHead, std::string &out);

// Hit-for-miss: is `why` a property of the page (so the next burst should go upstream in
// parallel instead of queueing behind one fetch), rather than of one attempt or one request?
// A 5xx is a failed attempt (the next may succeed); Authorization, Truncated and Head say
// nothing about the page.
bool marksPass(NotStored why, int status);

} // namespace fc::cache
