// Writing a whole buffer to a file descriptor (files, not sockets: no MSG_NOSIGNAL), retrying
// short writes and EINTR. For the unlinked files of buffered uploads (proxy/body_buffer) and the
// store's snapshot (fleet/snapshot); errno says why when it returns false.
//
// Threading: any thread; blocking (a file).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace fc::io {

inline bool writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

} // namespace fc::io
