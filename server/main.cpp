// frontcache entry point: command line (CLI11), config loading, then Server::run(); the
// subcommands `top` and `warm` run the client tools (tools/).
#include <CLI/CLI.hpp>

#include <malloc.h>

#include <cstdio>
#include <memory>

#include "common/log.h"
#include "config/config.h"
#include "http/headers.h"
#include "server/server.h"
#include "tools/explain.h"
#include "tools/top.h"
#include "tools/warm.h"

#ifndef FC_VERSION
#define FC_VERSION "0.0.0"
#endif

namespace {

struct TopArgs {
    std::string admin = "127.0.0.1:9090";
    bool once = false;
    std::string token;
};

CLI::App *addTopCommand(CLI::App &app, TopArgs &a) {
    CLI::App *top = app.add_subcommand(
        "top", "A live view of a running frontcache from its admin port (q quits)");
    top->add_option("--admin", a.admin, "the admin port, HOST:PORT (admin.listen)");
    top->add_flag("--once", a.once, "print one snapshot as text and exit (for scripts)");
    top->add_option("--token", a.token, "admin.token, when the admin port wants one")
        ->envname("FRONTCACHE_ADMIN_TOKEN");
    return top;
}

// `encodings`: the --encodings list as given (split after parsing).
CLI::App *addWarmCommand(CLI::App &app, fc::tools::WarmOptions &warm, std::string &encodings) {
    CLI::App *warmCmd = app.add_subcommand(
        "warm", "Request URLs through a running frontcache so they are stored before the traffic "
                "comes: from files, - (stdin), sitemap.xml files or http:// sitemap URLs");
    warmCmd->add_option("sources", warm.sources,
                        "URL lists (one URL or /path per line), sitemaps (indexes followed), or - "
                        "(default)");
    warmCmd->add_option("--target", warm.target, "frontcache's public port, HOST:PORT")
        ->capture_default_str();
    warmCmd->add_option("--rate", warm.rate, "requests per second in all (0 = no cap)")
        ->capture_default_str();
    warmCmd->add_option("--concurrency", warm.concurrency, "connections at once")
        ->capture_default_str();
    warmCmd->add_option("--encodings", encodings,
                        "comma-separated Accept-Encoding values: each URL is requested once per "
                        "value (\"identity\" = no Accept-Encoding), e.g. \"gzip,br,identity\"");
    warmCmd->add_option("--host", warm.host,
                        "Host for lines that are paths (/a/b); default: the --target");
    warmCmd->add_option("--timeout", warm.timeoutSeconds, "seconds per request")
        ->capture_default_str();
    warmCmd->add_flag("-q,--quiet", warm.quiet, "no progress lines, only the summary");
    return warmCmd;
}

// Loads and validates `file` into `r`; false after printing every error (FILE:LINE:COL: key).
bool loadConfig(const std::string &file, fc::config::LoadResult &r) {
    r = fc::config::loadConfigFile(file);
    if (r.config)
        return true;
    for (auto &e : r.errors)
        std::fprintf(stderr, "%s\n", e.c_str());
    return false;
}

// --check-config FILE: prints "ok" (and the exposure warnings) and returns 0, or prints every
// error and returns 1.
int checkConfig(const std::string &file) {
    fc::config::LoadResult r;
    if (!loadConfig(file, r))
        return 1;
    for (const auto &w : fc::config::exposureWarnings(*r.config))
        std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::printf("ok\n");
    return 0;
}

// -c FILE: the first phase of a run, loading the configuration (every error printed, exit 1),
// then the server's own phases (server/server.cpp).
int runServer(const std::string &file) {
    fc::config::LoadResult r;
    if (!loadConfig(file, r))
        return 1;
    fc::common::setLogLevel(r.config->log.level);
    // Before anything is bound, so the warning is there even when a listener then fails.
    for (const auto &w : fc::config::exposureWarnings(*r.config))
        FC_WARN("%s", w.c_str());
    auto cfg = std::make_shared<const fc::config::Config>(std::move(*r.config));
    return fc::server::Server(cfg).run();
}

} // namespace

int main(int argc, char **argv) {
    // Stored values up to cache.max_object_size are malloc'd one by one. glibc serves blocks
    // above 128 KiB with mmap/munmap, which serialises threads on the kernel's mm lock and faults
    // every page again; keep such values on the heap, and do not hand freed heap back to the
    // kernel eagerly either (benchmarks/store_bench BM_Set/262144: 16.5 -> 12.3 us on 1 thread,
    // 214 -> 89 us on 2).
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    CLI::App app{"frontcache: a caching HTTP reverse proxy in front of your web application"};
    std::string configFile, checkFile;
    app.add_option("-c,--config", configFile, "Run with this config file (TOML)");
    app.add_option("--check-config", checkFile,
                   "Validate a config file: prints \"ok\" or the errors, exits 0 or 1");
    app.set_version_flag("-V,--version", std::string("frontcache ") + FC_VERSION);
    TopArgs topArgs;
    CLI::App *top = addTopCommand(app, topArgs);
    fc::tools::WarmOptions warm;
    std::string encodings;
    CLI::App *warmCmd = addWarmCommand(app, warm, encodings);
    fc::tools::ExplainOptions explain;
    std::string explainConfig = "frontcache.toml";
    CLI::App *explainCmd = app.add_subcommand(
        "explain", "What frontcache would do with one request: rules, keys, lifetime (nothing "
                   "is sent)");
    explainCmd->add_option("url", explain.url, "http://host/path?query, or /path")->required();
    explainCmd->add_option("-c,--config", explainConfig, "the config file (frontcache.toml)");
    explainCmd->add_option("-X,--method", explain.method, "the request method (GET)");
    explainCmd->add_option("-H,--header", explain.headers, "a request field, 'Name: value'");
    explainCmd->add_option("--status", explain.status,
                           "a response status to decide on (with -R for its fields)");
    explainCmd->add_option("-R,--response-header", explain.respHeaders,
                           "a response field, 'Name: value'");
    CLI11_PARSE(app, argc, argv);
    if (explainCmd->parsed()) {
        fc::config::LoadResult r;
        if (!loadConfig(explainConfig, r))
            return 1;
        std::string out;
        const int rc = fc::tools::runExplain(*r.config, explain, out);
        std::fputs(out.c_str(), rc == 0 ? stdout : stderr);
        return rc;
    }
    if (top->parsed())
        return fc::tools::runTop(topArgs.admin, topArgs.once, topArgs.token);
    if (warmCmd->parsed()) {
        fc::http::forEachListMember(encodings, [&](std::string_view e) {
            warm.encodings.emplace_back(e); // trimmed, empty members skipped
        });
        return fc::tools::runWarm(warm);
    }

    if (!checkFile.empty())
        return checkConfig(checkFile);
    if (configFile.empty()) {
        std::fprintf(stderr, "frontcache: no config file given (use -c FILE; see --help)\n");
        return 2;
    }
    return runServer(configFile);
}
