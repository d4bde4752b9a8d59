// ChunkedDecoder: the chunked transfer coding (RFC 9112 §7.1), decoded strictly, for request
// bodies from clients and response bodies from the upstream.
//
// Why not llhttp's: Debian's llhttp 8.1.0 accepts any two bytes after a chunk's data where the
// grammar requires CRLF ("5\r\nhelloXX0\r\n\r\n" parses as "hello"), and a bare LF after the last
// chunk, and hands trailer fields to the same callbacks as header fields — so a proxy built on it
// reads a body differently from a strict server behind or in front of it (request smuggling), and
// trailers were merged into the upstream head. frontcache tells llhttp that a chunked message has
// no body and decodes the body here; llhttp is resumed at the next message.
//
// What is accepted, and nothing else (anything else is an error, the connection is closed):
//   chunk      = 1*HEXDIG [ chunk-ext ] CRLF chunk-data CRLF   (size overflowing 64 bits: error)
//   chunk-ext  = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
//   last-chunk = 1*"0" [ chunk-ext ] CRLF
//   trailer    = *( field-line CRLF ) CRLF                        (parsed, then dropped)
// Extensions are checked and dropped (frontcache re-frames every body it forwards). A size line
// longer than kMaxLine and a trailer section longer than the limit given are errors.
//
// Pull interface: feed() consumes bytes until it has one piece of chunk data to hand back (a view
// into the caller's buffer), the message ends, or the bytes run out; the caller loops. No
// allocation. Threading: one per connection, its loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fc::http {

class ChunkedDecoder {
public:
    static constexpr std::size_t kMaxLine = 4096; // a chunk-size line with its extensions

    enum class Status : std::uint8_t {
        NeedMore, // all of `in` consumed (or `data` returned); more bytes may follow
        Done,     // the message body (and its trailers) ended; `consumed` stops right after it
        Error,    // `reason` says why
        TooLarge, // a chunk size would take the data past maxData: refused before it arrives
    };
    struct Result {
        Status status;
        std::size_t consumed;  // bytes of `in` used
        std::string_view data; // chunk data found (within the consumed bytes), may be empty
        const char *reason;    // with Error; static storage
    };

    explicit ChunkedDecoder(std::size_t maxTrailer = 16 * 1024, std::uint64_t maxData = UINT64_MAX)
        : maxTrailer_(maxTrailer), maxData_(maxData) {}

    // Decodes from `in`. Returns at the latest after one piece of data: call again with the
    // bytes not consumed. After Done or Error, call reset() before the next body.
    Result feed(std::string_view in);
    void reset();
    // Bytes of chunk data decoded since reset().
    std::uint64_t dataBytes() const { return dataBytes_; }

private:
    enum class State : std::uint8_t {
        Size,          // hex digits of a chunk size
        SizeBws,       // white space after the size: only before ';'
        ExtSemi,       // after ';' and optional white space: an extension name
        ExtName,       // in an extension name
        ExtNameEnd,    // white space after the name: '=' or ';' or CR
        ExtEq,         // after '=': optional white space, then a value
        ExtToken,      // in a token value
        ExtQuoted,     // in a quoted-string value
        ExtQuotedPair, // after a backslash in a quoted string
        ExtValueEnd,   // after a value: white space, ';' or CR
        SizeLf,        // a CR ended the size line: LF must follow
        Data,          // chunk data
        DataCr,        // the CR after chunk data
        DataLf,        // the LF after chunk data
        TrailerStart,  // the start of a trailer line (or the final CRLF)
        TrailerName,   // a trailer field name
        TrailerValue,  // a trailer field value
        TrailerLf,     // a CR in a trailer line: LF must follow
        FinalLf,       // the CR of the empty line ending the trailers: LF must follow
        Done,
        Failed,
    };
    Result fail(std::size_t consumed, const char *reason);
    // One byte of each part of the grammar: nullptr, or why the body is refused.
    const char *sizeLine(unsigned char c);
    const char *extension(unsigned char c);
    const char *afterData(unsigned char c);
    const char *trailer(unsigned char c);
    static constexpr const char *kTooLarge = "chunked body larger than allowed";

    std::size_t maxTrailer_;
    std::uint64_t maxData_;
    State state_ = State::Size;
    std::uint64_t size_ = 0;      // the chunk size being read, then the data left of it
    std::uint64_t dataBytes_ = 0; // decoded so far
    std::size_t lineBytes_ = 0;   // bytes of the current size line
    std::size_t trailerBytes_ = 0;
    bool sawDigit_ = false;
};

} // namespace fc::http
