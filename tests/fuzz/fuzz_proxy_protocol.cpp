// libFuzzer target: arbitrary bytes into the PROXY protocol header parser (v1 and v2), whole and
// split at a point taken from the input. Must never crash or trip a sanitizer; the outcome must
// not depend on the split; an accepted header's address is a real address literal.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/proxy_protocol.h"

using fc::http::ProxyHeaderParser;

namespace {
struct Outcome {
    ProxyHeaderParser::Status status;
    std::size_t headerEnd; // offset where the request after the header starts (when Done)
    ProxyHeaderParser::Result result;
};

Outcome run(const char *data, std::size_t size, std::size_t cut) {
    ProxyHeaderParser p;
    Outcome o{ProxyHeaderParser::Status::NeedMore, 0, {}};
    std::size_t pos = 0;
    for (std::size_t end : {cut, size}) {
        if (end <= pos)
            continue;
        std::size_t used = 0;
        o.status = p.feed(data + pos, end - pos, used);
        if (used > end - pos)
            __builtin_trap();
        if (o.status == ProxyHeaderParser::Status::Done) {
            o.headerEnd = pos + used;
            break;
        }
        if (o.status == ProxyHeaderParser::Status::Error)
            break;
        pos = end;
    }
    o.result = p.result();
    return o;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 1)
        return 0;
    const std::size_t cut = 1 + data[0] % (size > 1 ? size - 1 : 1);
    const char *bytes = reinterpret_cast<const char *>(data + 1);
    const std::size_t n = size - 1;
    Outcome whole = run(bytes, n, n);
    Outcome split = run(bytes, n, cut < n ? cut : n);
    if (whole.status != split.status)
        __builtin_trap();
    if (whole.status == ProxyHeaderParser::Status::Done) {
        if (whole.headerEnd != split.headerEnd || whole.result.source != split.result.source ||
            whole.result.ssl != split.result.ssl || whole.headerEnd > n)
            __builtin_trap();
        if (whole.result.hasAddress) {
            unsigned char buf[16];
            if (inet_pton(AF_INET, whole.result.source.c_str(), buf) != 1 &&
                inet_pton(AF_INET6, whole.result.source.c_str(), buf) != 1)
                __builtin_trap();
        }
    }
    return 0;
}
