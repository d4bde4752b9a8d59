// `frontcache explain [-c CONFIG] URL [-H 'Field: value']... [-X METHOD] [--status N]
// [-R 'Field: value']...`: what a running frontcache with this config would do with one request,
// computed by the server's own functions (proxy/rules.h, cache/policy/) — the rules that matched
// and where they are written, the request as edited and forwarded, whether it is looked up or
// passed (and why), its keys, and, for a response given by --status and -R, whether it would be
// stored, for how long and which rule decided. Nothing is sent anywhere.
//
// Threading: the calling thread; no I/O but printing.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace fc::tools {

struct ExplainOptions {
    std::string url; // "http://host[:port]/path?query" or "/path" (Host: localhost)
    std::string method = "GET";
    std::vector<std::string> headers;     // request fields, "Name: value"
    int status = 0;                       // a response to decide on (0 = none given)
    std::vector<std::string> respHeaders; // its fields, "Name: value"
};

// Prints the explanation to `out`; returns the exit status (2 for a URL or field it cannot read).
int runExplain(const config::Config &cfg, const ExplainOptions &o, std::string &out);

} // namespace fc::tools
