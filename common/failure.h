// How frontcache handles a failure, in one place (docs/architecture.md, "Failures").
//
// - Start-up (config, listening sockets, loops, threads): a failure is fatal. The process prints
//   what failed and exits non-zero before it accepts anything; config errors name FILE:LINE:COL
//   and key. Exceptions are allowed there and nowhere else.
// - The data path (a connection, an exchange, a fetch, a store operation): nothing throws and
//   nothing aborts. A failing call returns a status (a negative libuv error, false, an empty
//   ItemRef, or fc::Result); the caller ends the one connection or fetch concerned (a client
//   gets an error status when nothing was sent yet, a cut connection otherwise), counts or logs
//   it, and everything else carries on. Every libuv result is checked in release builds too:
//   `assert` is never the only check. Calls that cannot fail on a live handle are left
//   unchecked: uv_timer_init, uv_timer_start/stop (they fail only for a closing handle or a null
//   callback), uv_close, uv_read_stop, uv_async_send (fails only once the handle is closed), and
//   uv_tcp_nodelay (best effort: a failure costs latency, not correctness).
// - Background work (shared cluster, health checks, refreshes): a failure is logged and counted
//   and leaves what is stored as it was.
#pragma once

namespace fc {

// A libuv-style status: 0 or positive is success, negative is an error code.
constexpr bool failed(int status) {
    return status < 0;
}

} // namespace fc
