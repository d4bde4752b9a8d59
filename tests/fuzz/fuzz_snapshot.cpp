// libFuzzer target: the snapshot reader (cache/store/snapshot.h) on hostile files. Half the
// inputs are raw bytes; the other half become a well-formed header and one block whose payload is
// the input with a correct hash, so the item parser itself is reached. Fed in pieces whose sizes
// come from the input. Must never crash, hang, leak, trip a sanitizer, or store an item from a
// file it then rejects without the caller being told.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "cache/store/snapshot.h"
#include "tests/fuzz/fuzz_store.h"

using namespace fc::cache;

namespace {
template <typename T> void put(std::string &out, T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff));
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size == 0)
        return 0;
    static ManualClock clock;
    Store store(fuzzStoreConfig(), clock);
    std::string file;
    const bool framed = data[0] & 1;
    std::string_view in(reinterpret_cast<const char *>(data + 1), size - 1);
    if (framed) {
        file.append("FCSNAP\0\0", 8);
        put<std::uint32_t>(file, kSnapshotVersion);
        put<std::uint32_t>(file, 0);
        put<std::int64_t>(file, clock.now());
        put<std::uint64_t>(file, XXH3_64bits(file.data(), file.size()));
        std::uint32_t items = in.empty() ? 1 : static_cast<std::uint8_t>(in[0]);
        file.append("BLK1", 4);
        put<std::uint32_t>(file, items);
        put<std::uint64_t>(file, in.size());
        put<std::uint64_t>(file, XXH3_64bits(in.data(), in.size()));
        file.append(in);
    } else {
        file.assign(in);
    }
    SnapshotReader r(store, clock.now());
    std::size_t pos = 0;
    bool ok = true;
    while (pos < file.size() && ok) {
        std::size_t n = std::min<std::size_t>(file.size() - pos, 1 + (file[pos] & 0x3f) * 7);
        ok = r.feed(std::string_view(file).substr(pos, n));
        pos += n;
    }
    if (ok)
        ok = r.finish();
    if (!ok && r.error().empty())
        __builtin_trap(); // a rejected file always says why
    return 0;
}
