// A request body read whole before the request goes upstream (upstream.buffer_chunked_bodies):
// kept in memory up to kMemoryLimit, beyond that in an unlinked temporary file under
// server.temp_dir, so a 100 MB upload costs the process about 1 MiB of memory. Read back in
// pieces while the upstream takes them.
//
// The file is written and read with plain write/pread on the loop thread: page-cache I/O of at
// most 64 KiB a call, as nginx does without aio. Ownership: owns its descriptor (closed by the
// destructor). Threading: one loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fc::proxy {

class BodyBuffer {
public:
    static constexpr std::size_t kMemoryLimit = 1 << 20;
    static constexpr std::size_t kReadPiece = 64 * 1024;

    explicit BodyBuffer(std::string tempDir) : tempDir_(std::move(tempDir)) {}
    ~BodyBuffer();
    BodyBuffer(const BodyBuffer &) = delete;
    BodyBuffer &operator=(const BodyBuffer &) = delete;

    // False when the file could not be created or written (error() says why).
    bool append(std::string_view piece);
    std::uint64_t size() const { return size_; }
    bool inFile() const { return fd_ >= 0; }
    const std::string &error() const { return error_; }

    // Reading back, from the start: the next piece (empty at the end, or on a read error —
    // then error() is set). The view is valid until the next call.
    std::string_view next();
    bool atEnd() const { return readPos_ >= size_; }

private:
    std::string tempDir_;
    std::string memory_;
    std::string scratch_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::uint64_t readPos_ = 0;
    std::string error_;
};

} // namespace fc::proxy
