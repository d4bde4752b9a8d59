// One answer of the admin port, before it is framed (http::cannedResponse, with
// Connection: close). Plain data.
#pragma once

#include <string>

namespace fc::admin {

struct Reply {
    int status = 200;
    const char *type = "text/plain"; // a constant: the Content-Type
    std::string body;
};

} // namespace fc::admin
