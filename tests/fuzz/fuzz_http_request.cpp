// libFuzzer target: arbitrary bytes into the hardened HTTP request parser (HeadScanner +
// llhttp), fed in pieces whose sizes come from the input. Must never crash or trip a sanitizer,
// and every head it accepts must satisfy the hardening rules.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/parser.h"

using namespace fc::http;

namespace {
struct Sink : RequestParser::Sink {
    bool onRequestHead(RequestHead &h) override {
        // Accepted heads never carry the shapes the scanner exists to reject.
        h.headers.forEach([](std::string_view n, std::string_view v) {
            if (n.empty() || n.find_first_of(" \t\r\n") != std::string_view::npos ||
                v.find_first_of("\r\n") != std::string_view::npos)
                __builtin_trap();
        });
        if (h.chunked && h.contentLength >= 0)
            __builtin_trap();
        return true;
    }
    void onRequestBody(std::string_view) override {}
    void onRequestComplete() override {}
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    Sink sink;
    RequestParser::Limits limits;
    limits.maxHeadSize = 4096;
    limits.maxTargetSize = 1024;
    limits.maxBody = 1 << 16;
    RequestParser parser(sink, limits);
    std::string carry;
    std::size_t pos = 0;
    while (pos < size) {
        std::size_t n = std::min<std::size_t>(size - pos, (data[pos] & 0x1f) + 1);
        ++pos;
        carry.append(reinterpret_cast<const char *>(data + pos), std::min(n, size - pos));
        pos += std::min(n, size - pos);
        for (;;) {
            auto r = parser.feed(carry.data(), carry.size());
            if (r.consumed > carry.size())
                __builtin_trap();
            carry.erase(0, r.consumed);
            if (r.status == ParseStatus::Error)
                return 0;
            if (r.status == ParseStatus::Paused) {
                parser.resume();
                if (!carry.empty())
                    continue;
            }
            break;
        }
    }
    return 0;
}
