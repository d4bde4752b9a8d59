#include "http/chunked.h"

#include "http/headers.h"

namespace fc::http {

namespace {
int hexValue(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
bool isBws(unsigned char c) {
    return c == ' ' || c == '\t';
}
// qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR but '"' and '\', obs-text.
bool isQdText(unsigned char c) {
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}
} // namespace

void ChunkedDecoder::reset() {
    state_ = State::Size;
    size_ = dataBytes_ = 0;
    lineBytes_ = trailerBytes_ = 0;
    sawDigit_ = false;
}

ChunkedDecoder::Result ChunkedDecoder::fail(std::size_t consumed, const char *reason) {
    state_ = State::Failed;
    return {Status::Error, consumed, {}, reason};
}

ChunkedDecoder::Result ChunkedDecoder::feed(std::string_view in) {
    if (state_ == State::Failed)
        return {Status::Error, 0, {}, "chunked body already failed"};
    if (state_ == State::Done)
        return {Status::Done, 0, {}, nullptr};
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto c = static_cast<unsigned char>(in[i]);
        if (state_ == State::Data) {
            // The one state that takes many bytes at once: hand them back as a piece.
            std::size_t take = in.size() - i;
            if (take > size_)
                take = static_cast<std::size_t>(size_);
            size_ -= take;
            dataBytes_ += take;
            if (size_ == 0)
                state_ = State::DataCr;
            return {Status::NeedMore, i + take, in.substr(i, take), nullptr};
        }
        if (state_ <= State::SizeLf && ++lineBytes_ > kMaxLine)
            return fail(i, "chunk size line too long");
        if (state_ >= State::TrailerStart && ++trailerBytes_ > maxTrailer_)
            return fail(i, "chunked trailer section too large");
        const char *error = state_ <= State::SizeLf   ? sizeLine(c)
                            : state_ <= State::DataLf ? afterData(c)
                                                      : trailer(c);
        if (error == kTooLarge) {
            state_ = State::Failed;
            return {Status::TooLarge, i + 1, {}, error};
        }
        if (error)
            return fail(i, error);
        if (state_ == State::Done)
            return {Status::Done, i + 1, {}, nullptr};
    }
    return {Status::NeedMore, in.size(), {}, nullptr};
}

// chunk-size [ chunk-ext ] CRLF: the size, white space only before an extension, the LF.
const char *ChunkedDecoder::sizeLine(unsigned char c) {
    switch (state_) {
    case State::Size:
        if (int v = hexValue(c); v >= 0) {
            if (size_ > (UINT64_MAX >> 4))
                return "chunk size overflows 64 bits";
            size_ = (size_ << 4) | static_cast<std::uint64_t>(v);
            sawDigit_ = true;
            return nullptr;
        }
        if (!sawDigit_)
            return "chunk size is not a hexadecimal number";
        if (c == '\r')
            state_ = State::SizeLf;
        else if (c == ';')
            state_ = State::ExtSemi;
        else if (isBws(c))
            state_ = State::SizeBws;
        else
            return "invalid character after a chunk size";
        return nullptr;
    case State::SizeBws: // RFC 9112 §7.1.1: BWS only before an extension's ';'
        if (c == ';')
            state_ = State::ExtSemi;
        else if (!isBws(c))
            return "white space after a chunk size without an extension";
        return nullptr;
    case State::SizeLf:
        if (c != '\n')
            return "chunk size line not ended by CRLF";
        lineBytes_ = 0;
        sawDigit_ = false;
        if (size_ > maxData_ - dataBytes_) // before a byte of it is waited for
            return kTooLarge;
        state_ = size_ == 0 ? State::TrailerStart : State::Data;
        return nullptr;
    default:
        return extension(c);
    }
}

// chunk-ext = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ), then CR.
const char *ChunkedDecoder::extension(unsigned char c) {
    // Where each state goes on ';', on CR and on white space, when it accepts them.
    auto endOfItem = [&](State onBws) -> const char * {
        if (c == ';')
            state_ = State::ExtSemi;
        else if (c == '\r')
            state_ = State::SizeLf;
        else if (isBws(c))
            state_ = onBws;
        else
            return "invalid character in a chunk extension";
        return nullptr;
    };
    switch (state_) {
    case State::ExtSemi:
        if (isTokenChar(c))
            state_ = State::ExtName;
        else if (!isBws(c))
            return "invalid chunk extension name";
        return nullptr;
    case State::ExtName:
        if (isTokenChar(c))
            return nullptr;
        if (c == '=') {
            state_ = State::ExtEq;
            return nullptr;
        }
        return endOfItem(State::ExtNameEnd);
    case State::ExtNameEnd:
        if (c == '=') {
            state_ = State::ExtEq;
            return nullptr;
        }
        return endOfItem(State::ExtNameEnd);
    case State::ExtEq:
        if (c == '"')
            state_ = State::ExtQuoted;
        else if (isTokenChar(c))
            state_ = State::ExtToken;
        else if (!isBws(c))
            return "invalid chunk extension value";
        return nullptr;
    case State::ExtToken:
        return isTokenChar(c) ? nullptr : endOfItem(State::ExtValueEnd);
    case State::ExtQuoted:
        if (c == '"')
            state_ = State::ExtValueEnd;
        else if (c == '\\')
            state_ = State::ExtQuotedPair;
        else if (!isQdText(c))
            return "invalid character in a quoted chunk extension";
        return nullptr;
    case State::ExtQuotedPair:
        if (c != '\t' && (c < 0x20 || c == 0x7f))
            return "invalid character in a quoted chunk extension";
        state_ = State::ExtQuoted;
        return nullptr;
    case State::ExtValueEnd:
        return endOfItem(State::ExtValueEnd);
    default:
        return "chunked decoder in an impossible state";
    }
}

// The CRLF after chunk-data (llhttp 8.1 took any two bytes here).
const char *ChunkedDecoder::afterData(unsigned char c) {
    if (state_ == State::DataCr) {
        if (c != '\r')
            return "chunk data not followed by CRLF";
        state_ = State::DataLf;
        return nullptr;
    }
    if (c != '\n')
        return "chunk data not followed by CRLF";
    state_ = State::Size;
    return nullptr;
}

// trailer-section = *( field-line CRLF ), then the CRLF that ends the body; dropped.
const char *ChunkedDecoder::trailer(unsigned char c) {
    switch (state_) {
    case State::TrailerStart:
        if (c == '\r')
            state_ = State::FinalLf;
        else if (isTokenChar(c))
            state_ = State::TrailerName;
        else
            return "invalid trailer field"; // obs-fold, bare LF, empty name...
        return nullptr;
    case State::TrailerName:
        if (c == ':')
            state_ = State::TrailerValue;
        else if (!isTokenChar(c))
            return "invalid trailer field name";
        return nullptr;
    case State::TrailerValue:
        if (c == '\r')
            state_ = State::TrailerLf;
        else if (!isFieldValueChar(c))
            return "invalid character in a trailer field";
        return nullptr;
    case State::TrailerLf:
        if (c != '\n')
            return "trailer field not ended by CRLF";
        state_ = State::TrailerStart;
        return nullptr;
    case State::FinalLf:
        if (c != '\n')
            return "chunked body not ended by CRLF";
        state_ = State::Done;
        return nullptr;
    default:
        return "chunked decoder in an impossible state";
    }
}

} // namespace fc::http
