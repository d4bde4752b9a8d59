// A libuv call that failed on the data path (common/failure.h): logged as "what: error" at error
// level, and `rc` handed back, so call sites read
// `if (io::uvFailed(rc, "...") < 0) { end this connection }`. Any thread.
#pragma once

namespace fc::io {

int uvFailed(int rc, const char *what);

} // namespace fc::io
