// What a request says about where it came from, when it comes through a proxy we trust
// (server.trusted_proxies): the original client's address (X-Forwarded-For, read the way nginx's
// real_ip_recursive reads it) and the scheme the client used (X-Forwarded-Proto, else RFC 7239
// Forwarded: proto=). From a peer we do not trust, none of it is believed.
//
// Pure; safe from any thread.
#pragma once

#include <string_view>

#include "http/headers.h"

namespace fc::http {

// The client's address behind a trusted `peer`: the right-most address of the X-Forwarded-For
// list (every such field, in order) that is not trusted — or, when every one is, the left-most;
// `peer` when there is no list. An entry that is not an address ends the walk (the last address
// accepted stands). `trusted` is called with textual addresses. The view points into `peer` or
// `req`.
template <typename Trusted>
std::string_view forwardedClient(std::string_view peer, const HeaderList &req, Trusted &&trusted);

// The client's address: `peer` unless `trusted(peer)`, then forwardedClient().
template <typename Trusted>
std::string_view realClientAddress(std::string_view peer, const HeaderList &req,
                                   Trusted &&trusted) {
    return trusted(peer) ? forwardedClient(peer, req, trusted) : peer;
}

// The scheme the client used, as a trusted proxy reports it: X-Forwarded-Proto (its first
// element), else the proto= parameter of the first Forwarded element; "" when neither says.
std::string_view forwardedProto(const HeaderList &req);

// Is `s` an address literal (what inet_pton takes) of `family` (AF_INET, AF_INET6, or 0 for
// either)?
bool isAddressLiteral(std::string_view s, int family = 0);

template <typename Trusted>
std::string_view forwardedClient(std::string_view peer, const HeaderList &req, Trusted &&trusted) {
    // Several X-Forwarded-For fields are one list (RFC 9110 §5.3): a proxy that appends a field
    // of its own (HAProxy's option forwardfor) puts the address it saw last, after whatever the
    // client wrote. Walked from the last field's last entry.
    std::string_view current = peer;
    for (std::size_t i = req.size(); i-- > 0;) {
        const HeaderList::Field f = req[i];
        if (!equalsIgnoreCase(f.name, "x-forwarded-for"))
            continue;
        std::string_view list = f.value;
        while (!list.empty()) {
            std::size_t comma = list.rfind(',');
            std::string_view entry =
                trimOws(comma == std::string_view::npos ? list : list.substr(comma + 1));
            list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
            if (entry.empty())
                continue; // an empty list element (RFC 9110 §5.6.1)
            if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']')
                entry = entry.substr(1, entry.size() - 2);
            if (!isAddressLiteral(entry))
                return current;
            current = entry;
            if (!trusted(entry))
                return entry;
        }
    }
    return current;
}

} // namespace fc::http
