// The process: loads nothing itself (main does), but given a Config it creates the listening
// sockets, resolves the upstream, starts the workers and handles signals on the main thread.
// The composition root: the one place that links the data path (proxy/), the fleet (fleet/)
// and the admin port (admin/) together.
//
// Threading: run() is called once from the main thread and returns after a graceful stop.
#pragma once

#include <memory>

#include "config/config.h"

namespace fc::server {

class Server {
public:
    explicit Server(std::shared_ptr<const config::Config> cfg);
    // Binds, starts workers, runs until SIGTERM/SIGINT and the drain that follows.
    // Returns the process exit code; start-up failures print one line and return 1.
    int run();

private:
    std::shared_ptr<const config::Config> cfg_;
};

} // namespace fc::server
