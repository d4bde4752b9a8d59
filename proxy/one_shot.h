// One HTTP/1.1 request on a fresh connection whose answer is only its status line: the active
// health checks (proxy/health_check.h) and the purges forwarded to peers (fleet/peer_forward.h).
// The request should say `Connection: close`; the connection is closed as soon as the status
// line arrived, so a check or a forward costs the other side one cheap exchange.
//
// Threading: the loop's thread. Ownership: the exchange owns itself and frees itself in its
// handles' close callbacks; cancel() (before `done` ran) closes it without calling `done`.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "proxy/balancer.h"

namespace fc::proxy {

class OneShot;

// `status` is the response's status code, or 0 when there was none (refused, reset, timeout,
// not HTTP): `why` then says what happened. With an empty request nothing is sent: the connect
// is the check, and `status` is kOneShotConnected once it succeeded.
inline constexpr int kOneShotConnected = 1;
using OneShotDone = std::function<void(int status, const std::string &why)>;

// Connects to `target`, sends `request`, reads the status line within `timeoutMs`. `done` is
// called exactly once (never from inside this call) unless the exchange is cancelled first.
// Returns the exchange, for cancel().
OneShot *startOneShot(uv_loop_t *loop, const UpstreamTarget &target, std::string request,
                      std::uint64_t timeoutMs, OneShotDone done);
void cancelOneShot(OneShot *shot);

} // namespace fc::proxy
