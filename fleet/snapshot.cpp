#include "fleet/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/log.h"
#include "io/fd_io.h"
#include "io/uv_error.h"

namespace fc::fleet {

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string directoryOf(const std::string &path) {
    std::size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// Creates the temporary file, new, ours, mode 0600: O_EXCL never opens what is already at the
// name (with O_CREAT it does not follow a symlink either, O_NOFOLLOW says so twice), so a
// symlink planted there cannot make us truncate or write the file it points to. Something at
// the name is removed and the create tried once more only when it is a regular file of ours
// with no other name: the file of an earlier process with the same pid that crashed while
// writing (in a container frontcache is often pid 1 at every start). Anything else (a symlink,
// a directory, someone else's file) is left alone and the write refused. -1 and `error` set on
// failure.
//
// Not O_TMPFILE + linkat: linkat cannot replace the existing snapshot, so a named temporary file
// would still be needed before the rename, and O_TMPFILE is missing on some file systems.
int createTemporary(const std::string &tmp, std::string &error) {
    constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::open(tmp.c_str(), kFlags, 0600);
    if (fd < 0 && errno == EEXIST) {
        struct stat st {};
        const char *what = nullptr;
        if (::lstat(tmp.c_str(), &st) != 0)
            what = "gone again"; // a race with someone else's unlink: refuse, try next time
        else if (S_ISLNK(st.st_mode))
            what = "a symlink";
        else if (!S_ISREG(st.st_mode))
            what = "not a regular file";
        else if (st.st_uid != ::geteuid())
            what = "another user's file";
        else if (st.st_nlink != 1)
            what = "a file with other names (hard links)";
        else if (::unlink(tmp.c_str()) != 0)
            what = "a stale file that cannot be removed";
        if (what) {
            error = "refusing to write the snapshot: " + tmp + " already exists and is " + what +
                    "; it is not followed or overwritten (remove it)";
            return -1;
        }
        fd = ::open(tmp.c_str(), kFlags, 0600);
    }
    if (fd < 0) {
        error = "cannot create " + tmp + ": " + std::strerror(errno);
        return -1;
    }
    // The umask may have taken bits away (never added any): the snapshot holds every cached
    // page, so exactly owner read and write.
    if (::fchmod(fd, 0600) != 0) {
        error = "cannot chmod " + tmp + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return -1;
    }
    return fd;
}

} // namespace

SnapshotResult saveSnapshot(cache::Store &store, const std::string &path, std::int64_t now) {
    SnapshotResult r;
    auto t0 = std::chrono::steady_clock::now();
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = createTemporary(tmp, r.error);
    if (fd < 0)
        return r;
    int writeErrno = 0;
    bool ok = cache::writeSnapshot(
        store,
        [&](std::string_view b) {
            if (io::writeAll(fd, b))
                return true;
            writeErrno = errno;
            return false;
        },
        now, &r.counts);
    if (ok && ::fsync(fd) != 0) {
        ok = false;
        writeErrno = errno;
    }
    if (::close(fd) != 0 && ok) {
        ok = false;
        writeErrno = errno;
    }
    if (!ok) {
        ::unlink(tmp.c_str());
        r.error = "cannot write " + tmp + ": " + std::strerror(writeErrno);
        return r;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        r.error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return r;
    }
    // The rename itself must reach the disk, or a power cut could bring back the old file.
    int dfd = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    r.ok = true;
    r.seconds = secondsSince(t0);
    return r;
}

SnapshotResult restoreSnapshot(cache::Store &store, const std::string &path, std::int64_t now) {
    SnapshotResult r;
    auto t0 = std::chrono::steady_clock::now();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r.ok = errno == ENOENT;
        r.error = errno == ENOENT ? "no snapshot at " + path
                                  : "cannot open " + path + ": " + std::strerror(errno);
        return r;
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    cache::SnapshotReader reader(store, now);
    std::string buf(16 << 20, '\0');
    bool ok = true;
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r.error = "cannot read " + path + ": " + std::strerror(errno);
            ok = false;
            break;
        }
        if (n == 0) {
            ok = reader.finish();
            break;
        }
        if (!reader.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
            ok = false;
            break;
        }
    }
    ::close(fd);
    r.counts = reader.counts();
    r.seconds = secondsSince(t0);
    if (!ok) {
        if (r.error.empty())
            r.error = path + ": " + reader.error();
        // A bad file counts as none: what its good blocks restored goes too.
        store.removeIf([](std::string_view, std::string_view) { return true; });
        r.counts.items = r.counts.valueBytes = 0;
        return r;
    }
    r.ok = true;
    return r;
}

SnapshotScheduler::SnapshotScheduler(uv_loop_t *loop, cache::Store &store,
                                     const cache::Clock &clock, std::string path,
                                     std::chrono::milliseconds interval)
    : loop_(loop), store_(store), clock_(clock), path_(std::move(path)), interval_(interval) {
    work_.data = this;
}

void SnapshotScheduler::start() {
    if (interval_.count() <= 0)
        return;
    uv_timer_init(loop_, &timer_); // cannot fail (no allocation)
    timer_.data = this;
    timerInit_ = true;
    auto ms = static_cast<std::uint64_t>(interval_.count());
    uv_timer_start(
        &timer_,
        [](uv_timer_t *t) noexcept { static_cast<SnapshotScheduler *>(t->data)->onTimer(); }, ms,
        ms);
}

void SnapshotScheduler::stop() {
    if (timerInit_) {
        uv_close(reinterpret_cast<uv_handle_t *>(&timer_), nullptr);
        timerInit_ = false;
    }
}

void SnapshotScheduler::onTimer() {
    if (writing_) // the previous one is still writing (a slow disk): skip this turn
        return;
    writing_ = true;
    int rc = uv_queue_work(
        loop_, &work_,
        [](uv_work_t *w) {
            auto *self = static_cast<SnapshotScheduler *>(w->data);
            self->pending_ = saveSnapshot(self->store_, self->path_, self->clock_.now());
        },
        [](uv_work_t *w, int) {
            auto *self = static_cast<SnapshotScheduler *>(w->data);
            self->writing_ = false;
            self->record(self->pending_);
        });
    if (io::uvFailed(rc, "snapshot: queue work") < 0)
        writing_ = false;
}

void SnapshotScheduler::writeNow() {
    record(saveSnapshot(store_, path_, clock_.now()));
}

void SnapshotScheduler::record(const SnapshotResult &r) {
    if (!r.ok) {
        ++status_.failed;
        FC_ERROR("snapshot: %s (the previous snapshot, if any, is kept)", r.error.c_str());
        return;
    }
    ++status_.written;
    status_.lastSuccess = clock_.now();
    status_.lastSeconds = r.seconds;
    status_.lastItems = r.counts.items;
    status_.lastBytes = r.counts.fileBytes;
    FC_INFO("snapshot: wrote %llu items (%.1f MiB) to %s in %.3f s",
            static_cast<unsigned long long>(r.counts.items),
            static_cast<double>(r.counts.fileBytes) / (1 << 20), path_.c_str(), r.seconds);
}

} // namespace fc::fleet
