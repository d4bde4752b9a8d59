// frontcache-bench: measure the latency drop a cache gives under load.
//
//   frontcache-bench URL [options]                    one target
//   frontcache-bench --compare URL_A URL_B [options]  the same load against both, one after the
//                                                     other; side-by-side table and one report
//   frontcache-bench --config run.toml [URL | --compare BASE_A BASE_B]
//                                                     user groups from a run file (runfile.h);
//                                                     the bases replace its `target`
// Options: -u/--users N, -d/--duration 30s, --rampup 0s, --interval 5s, -t/--threads N,
//          --rate R (open loop, total req/s; default closed loop), --timeout 10s, --think 0s,
//          -H "Name: value" (repeatable), --out DIR (default results/<timestamp>),
//          --names A,B (series names).
// Loopback or any host you own: the load is bounded by --duration and stops by itself.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "benchmarks/load/engine.h"
#include "benchmarks/load/report.h"
#include "benchmarks/load/runfile.h"
#include "config/units.h"

using namespace fc::bench;

namespace {

struct ProgressCtx {
    std::string name;
    std::uint64_t lastRequests = 0;
    double lastElapsed = 0;
};

void progress(const RunStats &s, void *p) {
    auto *ctx = static_cast<ProgressCtx *>(p);
    double dt = s.elapsedS - ctx->lastElapsed;
    double rate = dt > 0 ? (s.total.requests - ctx->lastRequests) / dt : 0;
    ctx->lastRequests = s.total.requests;
    ctx->lastElapsed = s.elapsedS;
    std::fprintf(stderr, "\r[%s %5.1fs] requests %-9llu rate %8.0f/s  errors %-7llu p99 %8.2f ms ",
                 ctx->name.c_str(), s.elapsedS, static_cast<unsigned long long>(s.total.requests),
                 rate, static_cast<unsigned long long>(s.total.errorCount()),
                 s.total.latency.percentileNs(99) / 1e6);
    std::fflush(stderr);
}

bool seconds(const std::string &text, double &out, const char *what) {
    auto r = fc::config::parseDuration(text);
    if (!r) {
        std::fprintf(stderr, "frontcache-bench: %s: %s\n", what, r.error().c_str());
        return false;
    }
    out = static_cast<double>(r->count()) / 1000.0;
    return true;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"frontcache-bench: load generator that measures the latency drop of a cache"};
    std::string url, duration = "30s", rampup = "0s", interval = "5s", timeout = "10s",
                     think = "0s", out, names, runFile;
    std::vector<std::string> compare, headers;
    LoadOptions opt;
    app.add_option("url", url, "target URL (http://host:port/path)");
    app.add_option("--compare", compare, "two URLs: the same load against each")->expected(2);
    app.add_option("-u,--users", opt.users, "concurrent virtual users (connections)")
        ->check(CLI::Range(1, 100000));
    app.add_option("-d,--duration", duration, "run time per target (e.g. 30s)");
    app.add_option("--rampup", rampup, "users start evenly over this time");
    app.add_option("--interval", interval,
                   "results interval (multi-mechanize results_ts_interval)");
    app.add_option("-t,--threads", opt.threads, "threads (event loops)")->check(CLI::Range(1, 64));
    app.add_option("--rate", opt.rate, "open loop: total requests per second (0 = closed loop)");
    app.add_option("--timeout", timeout, "per-request timeout");
    app.add_option("--think", think, "closed loop: pause between answer and next request");
    app.add_option("-H,--header", headers, "extra request header \"Name: value\"");
    app.add_option("--out", out, "results folder (default results/<timestamp>)");
    app.add_option("--names", names, "series names, comma-separated");
    app.add_option("--config", runFile, "run file (TOML): durations and [[user_group]]s");
    std::vector<std::string> attach;
    app.add_option("--attach", attach,
                   "a text file to show in report.html under its name (repeatable): the config "
                   "and versions of what was measured")
        ->check(CLI::ExistingFile);
    CLI11_PARSE(app, argc, argv);
    if (!seconds(duration, opt.durationS, "--duration") ||
        !seconds(rampup, opt.rampupS, "--rampup") ||
        !seconds(interval, opt.intervalS, "--interval") ||
        !seconds(timeout, opt.timeoutS, "--timeout") || !seconds(think, opt.thinkS, "--think"))
        return 2;
    if (opt.durationS <= 0 || opt.intervalS <= 0 || opt.timeoutS <= 0) {
        std::fprintf(stderr,
                     "frontcache-bench: --duration, --interval and --timeout must be > 0\n");
        return 2;
    }
    opt.headers = headers;
    if (!runFile.empty()) {
        RunFile rf;
        auto errors = loadRunFile(runFile, rf);
        if (!errors.empty()) {
            for (auto &e : errors)
                std::fprintf(stderr, "%s\n", e.c_str());
            return 2;
        }
        opt = rf.options;
        if (url.empty() && compare.empty())
            url = rf.target;
    }
    std::vector<std::string> urls = compare.empty() ? std::vector<std::string>{url} : compare;
    if (urls.empty() || urls[0].empty()) {
        std::fprintf(stderr,
                     "frontcache-bench: give a URL or --compare URL_A URL_B (see --help)\n");
        return 2;
    }
    std::vector<std::string> seriesNames;
    for (std::size_t i = 0, j; i <= names.size() && !names.empty(); i = j + 1) {
        j = names.find(',', i);
        if (j == std::string::npos)
            j = names.size();
        seriesNames.push_back(names.substr(i, j - i));
    }
    if (out.empty()) {
        char stamp[32];
        std::time_t t = std::time(nullptr);
        std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
        out = std::string("results/") + stamp;
    }
    std::signal(SIGPIPE, SIG_IGN);
    const bool tty = isatty(2);
    std::vector<Series> series;
    for (std::size_t i = 0; i < urls.size(); ++i) {
        Target target;
        if (std::string err = parseTarget(urls[i], target); !err.empty()) {
            std::fprintf(stderr, "frontcache-bench: %s\n", err.c_str());
            return 2;
        }
        Series s;
        s.name = i < seriesNames.size() ? seriesNames[i] : urls[i];
        s.url = urls[i];
        ProgressCtx ctx{s.name};
        if (!tty)
            std::fprintf(stderr, "frontcache-bench: %s: %u users for %.0f s\n", s.name.c_str(),
                         opt.users, opt.durationS);
        s.stats = LoadRun(target, opt).run(tty ? &progress : nullptr, &ctx);
        if (tty)
            std::fprintf(stderr, "\n");
        series.push_back(std::move(s));
    }
    std::printf("%s", summaryTable(series, opt).c_str());
    std::vector<Attachment> attachments;
    for (const auto &path : attach) {
        std::ifstream f(path);
        std::ostringstream text;
        text << f.rdbuf();
        attachments.emplace_back(path.substr(path.rfind('/') + 1), text.str());
    }
    if (std::string err = writeResults(out, series, opt, attachments); !err.empty()) {
        std::fprintf(stderr, "frontcache-bench: %s\n", err.c_str());
        return 1;
    }
    std::printf("\nresults: %s/ (summary.txt, intervals.csv, summary.json, report.html)\n",
                out.c_str());
    return 0;
}
