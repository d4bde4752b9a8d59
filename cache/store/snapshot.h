// The store's snapshot format (cache.snapshot): every live item written out so a restart begins
// warm, as memcached's warm restart does, but as a portable file rather than a memory image —
// a snapshot survives a new binary, a different cache.memory and a different number of workers.
//
// Layout (integers little-endian; every hash is XXH3-64, the store's own hash):
//   header, 32 bytes:  "FCSNAP\0\0" | u32 version (1) | u32 reserved | i64 created (Unix s)
//                      | u64 hash of the 24 bytes before it
//   blocks, each:      u32 tag "BLK1" | u32 items | u64 payload length | u64 payload hash
//                      | payload: the items, each
//                          u8 key length | u8 reserved | u16 reserved | u32 client flags
//                          | u32 value length | i64 expiry (absolute Unix s, 0 = never)
//                          | key | value
//   end, 24 bytes:     u32 tag "END1" | u32 reserved | u64 items in all blocks
//                      | u64 chain: the block hashes folded in order (XXH3 seeded by the previous)
// A block holds items until it passes kSnapshotBlockBytes, so a reader checks and applies one
// block at a time and never trusts an item of a block whose hash does not match. A file without
// its end record (truncated), with a hash that does not match (corrupt), or of another version is
// rejected as a whole: SnapshotReader::feed returns false and the caller empties the store.
//
// Items keep their absolute expiry; the page format (cache/page/page.h) carries its own freshness
// and stale windows, so a restored page is fresh, in grace or usable on error exactly as before.
// Not kept: CAS values (new ones are assigned), eviction order and access counts (restored
// items start in the small FIFO), and items marked stale by `md I` (written as ordinary items).
//
// Pure: no I/O here. The bytes go to a sink the caller provides (fleet/snapshot.cpp writes a
// temporary file and renames it), and come back through feed(). Threading: a writer or reader is
// used from one thread; the Store it reads or fills may be used by others at the same time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "cache/store/store.h"

namespace fc::cache {

constexpr std::uint32_t kSnapshotVersion = 1;
constexpr std::size_t kSnapshotHeaderSize = 32;
constexpr std::size_t kSnapshotBlockHeaderSize = 24;
constexpr std::size_t kSnapshotItemHeaderSize = 20;
constexpr std::size_t kSnapshotBlockBytes = 1 << 20;

struct SnapshotCounts {
    std::uint64_t items = 0;      // written, or restored into the store
    std::uint64_t valueBytes = 0; // their keys and values
    std::uint64_t fileBytes = 0;  // the snapshot's own size
    std::uint64_t expired = 0;    // reader: past their expiry at restore, dropped
    std::uint64_t refused = 0;    // reader: larger than the store's itemSizeMax, or no memory
};

class SnapshotWriter {
public:
    // Receives the file's bytes in order; returns false to stop (a write error).
    using Sink = std::function<bool(std::string_view)>;
    SnapshotWriter(Sink sink, std::int64_t created);
    // Adds one item; `expiresAt` is absolute (0 = never). False once the sink failed.
    bool add(std::string_view key, std::uint32_t flags, std::int64_t expiresAt,
             std::string_view value);
    // Writes the last block and the end record. False when the sink failed at any point.
    bool finish();
    const SnapshotCounts &counts() const { return counts_; }

private:
    bool flushBlock();
    Sink sink_;
    std::string block_;
    std::uint32_t blockItems_ = 0;
    std::uint64_t chain_ = 0;
    bool ok_ = true;
    SnapshotCounts counts_;
};

// Writes every live item of `store` (Store::forEachLive: hits and sets go on meanwhile).
bool writeSnapshot(Store &store, const SnapshotWriter::Sink &sink, std::int64_t now,
                   SnapshotCounts *counts = nullptr);

class SnapshotReader {
public:
    // Items are stored into `store` as their block is verified; those expired at `now` are
    // dropped.
    SnapshotReader(Store &store, std::int64_t now);
    // Feeds the next bytes of the file, split anywhere. Returns false once the file is found
    // bad (error() says why); what was restored before that is in the store — the caller
    // decides whether to keep it (the server empties the store: a bad file counts as none).
    bool feed(std::string_view bytes);
    // The file ended: true when it ended exactly after a verified end record.
    bool finish();
    const std::string &error() const { return error_; }
    const SnapshotCounts &counts() const { return counts_; }
    std::int64_t created() const { return created_; }

private:
    enum class Part { Header, BlockHeader, Payload, Done, Failed };
    bool fail(std::string why);
    bool applyBlock(std::string_view payload);
    Store &store_;
    std::int64_t now_;
    Part part_ = Part::Header;
    std::string buf_; // the part being read
    std::size_t need_ = kSnapshotHeaderSize;
    std::uint32_t blockItems_ = 0;
    std::uint64_t blockHash_ = 0;
    std::uint64_t chain_ = 0;
    std::uint64_t itemsSeen_ = 0;
    std::int64_t created_ = 0;
    std::string error_;
    SnapshotCounts counts_;
};

} // namespace fc::cache
