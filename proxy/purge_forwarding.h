// Where the data path hands a purge on to the rest of the fleet (admin.peers). The data path
// owns this interface and builds the message (proxy/purge.cpp: the paths, the host, the keys
// already deleted from the shared cluster); fleet/peer_forward.h implements it (the queue per
// peer, the retries, the connections). So proxy/ never includes fleet/: the composition root
// (server/) hands CacheContext::peers the fleet's forwarder.
//
// Threading: submit() from any thread (workers answer public PURGEs; the admin port purges on
// the main loop). Ownership: the implementation outlives every CacheContext pointing at it.
#pragma once

#include <string>

namespace fc::proxy {

// What a peer is asked to do: an admin request.
struct PeerMessage {
    std::string method; // "POST"
    std::string target; // "/purge?soft=1&host=example.com", "/flush"
    std::string body;
    std::string what; // for the log: "purge of 3 path(s)"
};

class PurgeForwarding {
public:
    // Queues `m` for every peer and returns at once: the purge was done here already, a peer
    // that is slow or down never delays the answer.
    virtual void submit(PeerMessage m) = 0;

protected:
    ~PurgeForwarding() = default; // not deleted through this interface
};

} // namespace fc::proxy
