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
//   `assert` is never the only check. A libuv call that is documented never to fail (uv_timer_init,
//   uv_timer_stop, uv_close) is called without a check and a comment says so where it matters.
// - Background work (shared cluster, health checks, refreshes): a failure is logged and counted
//   and leaves what is stored as it was.
#pragma once

namespace fc {

// A libuv-style status: 0 or positive is success, negative is an error code.
constexpr bool failed(int status) {
    return status < 0;
}

} // namespace fc
