#include "io/uv_error.h"

#include <uv.h>

#include "common/log.h"

namespace fc::io {

int uvFailed(int rc, const char *what) {
    if (rc < 0)
        FC_ERROR("%s: %s", what, uv_strerror(rc));
    return rc;
}

} // namespace fc::io
