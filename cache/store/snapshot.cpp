#include "cache/store/snapshot.h"

#include <xxhash.h>

#include <cstring>

namespace fc::cache {

namespace {

constexpr char kMagic[8] = {'F', 'C', 'S', 'N', 'A', 'P', 0, 0};
constexpr char kBlockTag[4] = {'B', 'L', 'K', '1'};
constexpr char kEndTag[4] = {'E', 'N', 'D', '1'};
// A block passes kSnapshotBlockBytes by at most one item.
constexpr std::uint64_t kMaxPayload =
    kSnapshotBlockBytes + kSnapshotItemHeaderSize + kMaxKeyLength + 0xffffffffull;

template <typename T> void put(std::string &out, T v) {
    char b[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i)
        b[i] = static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
    out.append(b, sizeof(T));
}

template <typename T> T get(const char *p) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return static_cast<T>(v);
}

std::uint64_t hash(std::string_view b) {
    return XXH3_64bits(b.data(), b.size());
}
std::uint64_t foldChain(std::uint64_t chain, std::uint64_t blockHash) {
    char b[8];
    for (int i = 0; i < 8; ++i)
        b[i] = static_cast<char>((blockHash >> (8 * i)) & 0xff);
    return XXH3_64bits_withSeed(b, 8, chain);
}

} // namespace

// --- writing ----------------------------------------------------------------------------------

SnapshotWriter::SnapshotWriter(Sink sink, std::int64_t created) : sink_(std::move(sink)) {
    std::string h(kMagic, sizeof kMagic);
    put<std::uint32_t>(h, kSnapshotVersion);
    put<std::uint32_t>(h, 0);
    put<std::int64_t>(h, created);
    put<std::uint64_t>(h, hash(h));
    counts_.fileBytes += h.size();
    ok_ = sink_(h);
    block_.reserve(kSnapshotBlockHeaderSize + kSnapshotBlockBytes + 4096);
    block_.resize(kSnapshotBlockHeaderSize);
}

bool SnapshotWriter::add(std::string_view key, std::uint32_t flags, std::int64_t expiresAt,
                         std::string_view value) {
    if (!ok_)
        return false;
    put<std::uint8_t>(block_, static_cast<std::uint8_t>(key.size()));
    put<std::uint8_t>(block_, 0);
    put<std::uint16_t>(block_, 0);
    put<std::uint32_t>(block_, flags);
    put<std::uint32_t>(block_, static_cast<std::uint32_t>(value.size()));
    put<std::int64_t>(block_, expiresAt);
    block_.append(key);
    block_.append(value);
    ++blockItems_;
    ++counts_.items;
    counts_.valueBytes += key.size() + value.size();
    if (block_.size() - kSnapshotBlockHeaderSize >= kSnapshotBlockBytes)
        return flushBlock();
    return true;
}

bool SnapshotWriter::flushBlock() {
    if (blockItems_ == 0 || !ok_)
        return ok_;
    std::string_view payload(block_.data() + kSnapshotBlockHeaderSize,
                             block_.size() - kSnapshotBlockHeaderSize);
    std::uint64_t h = hash(payload);
    std::string head(kBlockTag, sizeof kBlockTag);
    put<std::uint32_t>(head, blockItems_);
    put<std::uint64_t>(head, payload.size());
    put<std::uint64_t>(head, h);
    std::memcpy(block_.data(), head.data(), kSnapshotBlockHeaderSize);
    chain_ = foldChain(chain_, h);
    counts_.fileBytes += block_.size();
    ok_ = sink_(block_);
    block_.resize(kSnapshotBlockHeaderSize);
    blockItems_ = 0;
    return ok_;
}

bool SnapshotWriter::finish() {
    if (!flushBlock())
        return false;
    std::string end(kEndTag, sizeof kEndTag);
    put<std::uint32_t>(end, 0);
    put<std::uint64_t>(end, counts_.items);
    put<std::uint64_t>(end, chain_);
    counts_.fileBytes += end.size();
    ok_ = sink_(end);
    return ok_;
}

bool writeSnapshot(Store &store, const SnapshotWriter::Sink &sink, std::int64_t now,
                   SnapshotCounts *counts) {
    SnapshotWriter w(sink, now);
    bool ok = true;
    store.forEachLive([&](std::vector<ItemRef> &items) {
        for (auto &it : items) {
            if (!ok)
                return;
            ok = w.add(it->key(), it->flags, store.absoluteExpiry(*it), it->value());
        }
    });
    ok = ok && w.finish();
    if (counts)
        *counts = w.counts();
    return ok;
}

// --- reading ----------------------------------------------------------------------------------

SnapshotReader::SnapshotReader(Store &store, std::int64_t now) : store_(store), now_(now) {}

bool SnapshotReader::fail(std::string why) {
    part_ = Part::Failed;
    error_ = std::move(why);
    buf_.clear();
    buf_.shrink_to_fit();
    return false;
}

bool SnapshotReader::feed(std::string_view bytes) {
    if (part_ == Part::Failed)
        return false;
    while (!bytes.empty()) {
        if (part_ == Part::Done)
            return fail("bytes after the end record");
        // A part that arrived whole is read where it lies; only one split across feeds is
        // gathered in buf_ (a restore is one copy into the items, not two).
        std::string_view part;
        if (buf_.empty() && bytes.size() >= need_) {
            part = bytes.substr(0, need_);
            bytes.remove_prefix(need_);
            counts_.fileBytes += need_;
        } else {
            std::size_t take = std::min(bytes.size(), need_ - buf_.size());
            buf_.append(bytes.data(), take);
            bytes.remove_prefix(take);
            counts_.fileBytes += take;
            if (buf_.size() < need_)
                return true;
            part = buf_;
        }
        const char *p = part.data();
        switch (part_) {
        case Part::Header: {
            if (std::memcmp(p, kMagic, sizeof kMagic) != 0)
                return fail("not a frontcache snapshot (bad magic)");
            if (get<std::uint64_t>(p + 24) != hash({p, 24}))
                return fail("corrupt header");
            std::uint32_t version = get<std::uint32_t>(p + 8);
            if (version != kSnapshotVersion)
                return fail("snapshot version " + std::to_string(version) + ", this build reads " +
                            std::to_string(kSnapshotVersion));
            created_ = get<std::int64_t>(p + 16);
            part_ = Part::BlockHeader;
            need_ = kSnapshotBlockHeaderSize;
            break;
        }
        case Part::BlockHeader: {
            if (std::memcmp(p, kEndTag, sizeof kEndTag) == 0) { // as long as a block header
                if (get<std::uint32_t>(p + 4) != 0 || get<std::uint64_t>(p + 8) != itemsSeen_ ||
                    get<std::uint64_t>(p + 16) != chain_)
                    return fail("the end record does not match the blocks read (blocks missing?)");
                part_ = Part::Done;
                break;
            }
            if (std::memcmp(p, kBlockTag, sizeof kBlockTag) != 0)
                return fail("corrupt block header at byte " +
                            std::to_string(counts_.fileBytes - need_));
            blockItems_ = get<std::uint32_t>(p + 4);
            std::uint64_t len = get<std::uint64_t>(p + 8);
            blockHash_ = get<std::uint64_t>(p + 16);
            if (len == 0 || len > kMaxPayload || blockItems_ == 0)
                return fail("corrupt block header at byte " +
                            std::to_string(counts_.fileBytes - need_));
            part_ = Part::Payload;
            need_ = static_cast<std::size_t>(len);
            buf_.clear();
            continue;
        }
        case Part::Payload:
            if (!applyBlock(part))
                return false;
            part_ = Part::BlockHeader;
            need_ = kSnapshotBlockHeaderSize;
            break;
        case Part::Done:
        case Part::Failed:
            break;
        }
        buf_.clear();
    }
    return true;
}

bool SnapshotReader::applyBlock(std::string_view payload) {
    if (hash(payload) != blockHash_)
        return fail("corrupt block (hash mismatch) ending at byte " +
                    std::to_string(counts_.fileBytes));
    chain_ = foldChain(chain_, blockHash_);
    std::uint32_t n = 0;
    while (!payload.empty()) {
        if (payload.size() < kSnapshotItemHeaderSize)
            return fail("corrupt block (item header cut short)");
        const char *p = payload.data();
        std::size_t keyLen = get<std::uint8_t>(p);
        std::uint32_t flags = get<std::uint32_t>(p + 4);
        std::uint32_t valueLen = get<std::uint32_t>(p + 8);
        std::int64_t expiresAt = get<std::int64_t>(p + 12);
        std::size_t total = kSnapshotItemHeaderSize + keyLen + valueLen;
        if (payload.size() < total)
            return fail("corrupt block (item cut short)");
        std::string_view key(p + kSnapshotItemHeaderSize, keyLen);
        std::string_view value(key.data() + keyLen, valueLen);
        payload.remove_prefix(total);
        ++n;
        if (!validKey(key))
            return fail("corrupt block (invalid key)");
        if (expiresAt != 0 && expiresAt <= now_) {
            ++counts_.expired;
            continue;
        }
        // An absolute time keeps its meaning however long the restart took; one within 30 days
        // of 1970 would be read as relative by memcached's rule, so such a date (never written
        // by a store whose clock is right) is kept as "expires in a second".
        std::int64_t exptime = expiresAt > kRelativeExptimeMax ? expiresAt : (expiresAt ? 1 : 0);
        ItemRef it = store_.allocate(key, flags, exptime, valueLen);
        if (!it) {
            ++counts_.refused;
            continue;
        }
        std::memcpy(it->valueData(), value.data(), valueLen);
        if (store_.store(StoreMode::Set, it) != StoreStatus::Stored) {
            ++counts_.refused;
            continue;
        }
        ++counts_.items;
        counts_.valueBytes += keyLen + valueLen;
    }
    if (n != blockItems_)
        return fail("corrupt block (item count does not match)");
    itemsSeen_ += n;
    return true;
}

bool SnapshotReader::finish() {
    if (part_ == Part::Done)
        return true;
    if (part_ == Part::Failed)
        return false;
    return fail(counts_.fileBytes == 0 ? "empty file"
                                       : "truncated after " + std::to_string(counts_.fileBytes) +
                                             " bytes (no end record)");
}

} // namespace fc::cache
