// The libuv plumbing of one accepted TCP connection, shared by every connection type — the HTTP
// client transport (proxy/client), the memcached port (proxy/memcache_conn) and the admin port
// (admin/connection): accept, reads into the owner's buffer, writes (io/stream_write: straight
// to the socket when it takes them, a queued remainder otherwise, with the write-queue size for
// backpressure), the shutdown of the write side, one timer, and one close of every handle —
// the owner told once the last close callback has run.
//
// What the bytes mean, when to pause or resume, what the timer is for and when to close are the
// owner's; the Connection only does them and reports back through Connection::Owner. Nothing is
// reported once close() was called (libuv still runs the callbacks of what was in flight: the
// queued writes are freed, the rest is ignored), except onClosed().
//
// Ownership: a member of its owner, which must stay alive until onClosed() (it usually deletes
// itself there). The TCP handle, the timer and the shutdown request live here; a handle of the
// owner's can be handed over to close with them (closeWith). Threading: the loop's thread only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/stream_write.h"

namespace fc::io {

class Connection {
public:
    // What the owner is told. Calls come from libuv callbacks, one at a time, on the loop thread.
    class Owner {
    public:
        // Bytes arrived (n > 0, in the buffer given to setReadBuffer), or the stream ended (n < 0:
        // UV_EOF or an error). Never with n == 0.
        virtual void onRead(ssize_t n, const uv_buf_t *buf) = 0;
        // A queued write finished; status < 0 when it failed. Not called for writes the socket
        // took at once.
        virtual void onWritten(int status) = 0;
        // shutdown() finished (status < 0: it failed).
        virtual void onShutdown(int status) = 0;
        // The timer started by startTimer() expired.
        virtual void onTimer() {}
        // Every handle is closed: nothing refers to the owner any more; it may delete itself.
        virtual void onClosed() = 0;

    protected:
        ~Owner() = default;
    };

    enum class Timer : bool { No, Yes };
    enum class NoDelay : bool { No, Yes };

    explicit Connection(Owner &owner) : owner_(owner) {}
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    // Initialises the TCP handle, and the timer when asked. On failure it returns the libuv
    // error and nothing was initialised: the owner may be deleted at once, without close().
    int open(uv_loop_t *loop, Timer timer);
    // Accepts a pending connection from `listener` (after open()), with TCP_NODELAY when asked.
    // Returns 0 or a libuv error; either way close() ends it.
    int accept(uv_stream_t *listener, NoDelay noDelay);
    // The socket's descriptor (-1 when unknown), for memcached's `watch` (cfd=).
    int fd() const { return fd_; }
    // The peer's address as text into `out` (INET6_ADDRSTRLEN bytes); false when unknown.
    bool peerName(char *out, std::size_t size) const;

    // Reads go into `buf` (the owner's, for as long as it reads: the worker's read buffer that
    // its connections share, since a read is handled before the next one is made).
    void setReadBuffer(char *buf, std::size_t size) {
        readBuf_ = buf;
        readBufSize_ = size;
    }
    // Starts reading; nothing to do when reading already or closing. Returns 0 or a libuv
    // error (the socket is unusable).
    int startReading();
    void stopReading();
    bool reading() const { return reading_; }

    // io/stream_write.h's writes on this stream (0 or a libuv error: the socket is unusable);
    // what is queued is reported by Owner::onWritten. Nothing is written once closing (0).
    int write(std::string_view data) { return write(&data, 1, 0, BufferRef()); }
    int write(const std::string_view *parts, std::size_t count, unsigned inPinned,
              BufferRef pinned);
    // Bytes queued in libuv, not yet taken by the socket.
    std::size_t writeQueueSize() const;

    // Sends FIN once the queued writes are out (uv_shutdown); reading goes on. Once only.
    // Returns 0 or a libuv error.
    int shutdown();

    // The one timer (open() with Timer::Yes): one shot, restarted by each call.
    void startTimer(std::uint64_t ms);
    void stopTimer();

    // Owner::onClosed() will close `h` too: a handle of the owner's, initialised on the same loop
    // (memcached's `watch` wake-up). One at most; its `data` is taken over when it closes.
    void closeWith(uv_handle_t *h) { extra_ = h; }
    // Closes every handle; Owner::onClosed() follows from the loop. Idempotent.
    void close();
    bool closing() const { return closing_; }

private:
    uv_stream_t *stream() { return reinterpret_cast<uv_stream_t *>(&tcp_); }

    static void onAllocCb(uv_handle_t *h, std::size_t, uv_buf_t *buf) noexcept;
    static void onReadCb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept;
    static void onWriteCb(uv_write_t *req, int status) noexcept;
    static void onShutdownCb(uv_shutdown_t *req, int status) noexcept;
    static void onTimerCb(uv_timer_t *t) noexcept;
    static void onCloseCb(uv_handle_t *h) noexcept;

    Owner &owner_;
    uv_tcp_t tcp_;
    uv_timer_t timer_;
    uv_shutdown_t shutdownReq_;
    uv_handle_t *extra_ = nullptr;
    char *readBuf_ = nullptr;
    std::size_t readBufSize_ = 0;
    int fd_ = -1;
    int openHandles_ = 0;
    bool hasTimer_ = false;
    bool reading_ = false;
    bool closing_ = false;
};

} // namespace fc::io
