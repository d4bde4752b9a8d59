// libFuzzer target: arbitrary bytes into the memcached protocol session, fed in pieces whose
// sizes come from the input itself (so split points are fuzzed too). Must never crash, hang,
// leak or trip a sanitizer; the session must keep answering.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cache/memcache/session.h"
#include "tests/fuzz/fuzz_store.h"

using namespace fc::cache;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    static ManualClock clock;
    Store store(fuzzStoreConfig(), clock);
    ProtocolContext ctx(store, clock, "fuzz");
    MemcacheSession session(ctx);
    std::string carry, out;
    std::size_t pos = 0;
    while (pos < size) {
        // One byte chooses the next piece's length (1..64) and occasionally moves the clock.
        std::uint8_t ctl = data[pos++];
        if (ctl & 0x80)
            clock.advance(ctl & 0x0f);
        std::size_t n = std::min<std::size_t>(size - pos, (ctl & 0x3f) + 1);
        carry.append(reinterpret_cast<const char *>(data + pos), n);
        pos += n;
        std::size_t consumed = 0;
        auto st = session.feed(carry.data(), carry.size(), consumed, out);
        if (consumed > carry.size())
            __builtin_trap();
        carry.erase(0, consumed);
        if (st == MemcacheSession::Status::Close)
            break;
        if (out.size() > (1 << 20))
            out.clear();
    }
    store.reclaimExpired(1024);
    return 0;
}
