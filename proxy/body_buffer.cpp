#include "proxy/body_buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "io/fd_io.h"

namespace fc::proxy {

namespace {
// An unlinked file in `dir`: O_TMPFILE where the file system has it, else mkstemp + unlink.
int openUnlinked(const std::string &dir, std::string &error) {
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    std::string path = dir + "/frontcache-body-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) {
        error = "cannot create a temporary file in " + dir + ": " + std::strerror(errno);
        return -1;
    }
    ::unlink(path.c_str());
    return fd;
}
} // namespace

BodyBuffer::~BodyBuffer() {
    if (fd_ >= 0)
        ::close(fd_);
}

bool BodyBuffer::append(std::string_view piece) {
    if (fd_ < 0 && memory_.size() + piece.size() <= kMemoryLimit) {
        memory_.append(piece);
        size_ += piece.size();
        return true;
    }
    if (fd_ < 0) { // over the memory limit: move what is held to a file
        std::string dir = tempDir_;
        if (dir.empty()) {
            const char *t = std::getenv("TMPDIR");
            dir = t && *t ? t : "/tmp";
        }
        fd_ = openUnlinked(dir, error_);
        if (fd_ < 0)
            return false;
        if (!io::writeAll(fd_, memory_)) {
            error_ = std::string("cannot write the request body to a temporary file: ") +
                     std::strerror(errno);
            return false;
        }
        std::string().swap(memory_);
    }
    if (!io::writeAll(fd_, piece)) {
        error_ = std::string("cannot write the request body to a temporary file: ") +
                 std::strerror(errno);
        return false;
    }
    size_ += piece.size();
    return true;
}

std::string_view BodyBuffer::next() {
    if (readPos_ >= size_)
        return {};
    if (fd_ < 0) {
        readPos_ = size_;
        return memory_;
    }
    scratch_.resize(kReadPiece);
    ssize_t n;
    do {
        n = ::pread(fd_, scratch_.data(), scratch_.size(), static_cast<off_t>(readPos_));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        error_ = std::string("cannot read the buffered request body back: ") +
                 (n < 0 ? std::strerror(errno) : "file shorter than written");
        readPos_ = size_;
        return {};
    }
    readPos_ += static_cast<std::uint64_t>(n);
    return std::string_view(scratch_.data(), static_cast<std::size_t>(n));
}

} // namespace fc::proxy
