#include "tools/warm.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/headers.h"
#include "http/rewrite.h"
#include "tools/http_client.h"
#include "tools/sitemap.h"
#include "tools/warm_tally.h"

namespace fc::tools {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kUserAgent = "frontcache-warm";
// The protocol caps a sitemap at 50 MB uncompressed; allow some slack.
constexpr std::size_t kMaxSitemap = 256u << 20;

struct Job {
    std::string authority; // Host
    std::string path;      // origin-form target
    bool https = false;
    std::string encoding; // Accept-Encoding ("" = none sent)
};

// Collects the URLs of every source, following sitemap indexes.
class Collector {
public:
    Collector(const WarmOptions &o) : o_(o) {}

    bool add(const std::string &source, int depth) {
        std::string bytes, err;
        if (source == "-") {
            bytes.assign(std::istreambuf_iterator<char>(std::cin), {});
        } else if (source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0) {
            err = httpGet(source, o_.timeoutSeconds, kMaxSitemap, kUserAgent, bytes);
        } else {
            std::ifstream in(source, std::ios::binary);
            if (!in)
                err = std::strerror(errno);
            else
                bytes.assign(std::istreambuf_iterator<char>(in), {});
        }
        if (!err.empty()) {
            std::fprintf(stderr, "frontcache warm: %s: %s\n", source.c_str(), err.c_str());
            return false;
        }
        if (looksLikeXml(bytes)) {
            Sitemap s = parseSitemap(bytes);
            if (!s.error.empty()) {
                std::fprintf(stderr, "frontcache warm: %s: %s\n", source.c_str(), s.error.c_str());
                return false;
            }
            ++sitemaps_;
            if (s.index) {
                if (depth >= 3) {
                    std::fprintf(stderr, "frontcache warm: %s: sitemap indexes nested too deep\n",
                                 source.c_str());
                    return false;
                }
                bool ok = true;
                for (const auto &loc : s.locs)
                    ok = add(loc, depth + 1) && ok;
                return ok;
            }
            for (const auto &loc : s.locs)
                url(loc, source);
            return true;
        }
        std::istringstream lines(bytes);
        std::string line;
        while (std::getline(lines, line)) {
            std::string_view l = http::trimOws(line);
            if (!l.empty() && l.back() == '\r')
                l.remove_suffix(1);
            if (!l.empty() && l.front() != '#')
                url(std::string(l), source);
        }
        return true;
    }

    std::vector<Job> jobs;
    std::size_t sitemaps_ = 0, skipped_ = 0;

private:
    void url(const std::string &u, const std::string &source) {
        std::string_view v = u;
        v = v.substr(0, v.find('#')); // a fragment never reaches a server
        http::TargetParts t = http::splitTarget(v);
        Job j;
        if (t.absolute()) {
            if ((t.scheme != "http" && t.scheme != "https") || t.authority.empty()) {
                ++skipped_;
                std::fprintf(stderr, "frontcache warm: %s: skipped \"%s\" (not http/https)\n",
                             source.c_str(), u.c_str());
                return;
            }
            j.authority = std::string(t.authority);
            j.https = t.scheme == "https";
            j.path = std::string(t.originPath());
        } else if (!v.empty() && v.front() == '/') {
            j.authority = o_.host.empty() ? o_.target : o_.host;
            j.path = std::string(v);
        } else {
            ++skipped_;
            std::fprintf(stderr, "frontcache warm: %s: skipped \"%s\" (not a URL or /path)\n",
                         source.c_str(), u.c_str());
            return;
        }
        if (o_.encodings.empty()) {
            jobs.push_back(std::move(j));
            return;
        }
        for (const auto &e : o_.encodings) {
            j.encoding = e == "identity" ? "" : e;
            jobs.push_back(j);
        }
    }
    const WarmOptions &o_;
};

std::string kinds(const std::map<std::string, std::size_t> &m) {
    std::string s;
    for (const auto &[k, v] : m)
        s += (s.empty() ? "" : ", ") + k + ": " + std::to_string(v);
    return s;
}

// The request for one job: Host, Accept-Encoding and the scheme choose the page and its key.
std::string jobRequest(const Job &j) {
    std::string fields = "User-Agent: " + std::string(kUserAgent) + "\r\n";
    if (!j.encoding.empty())
        fields += "Accept-Encoding: " + j.encoding + "\r\n";
    if (j.https)
        fields += "X-Forwarded-Proto: https\r\n";
    return getRequest(j.path, j.authority, fields);
}

// One connection thread: takes the next job until none are left, each at its slot of --rate.
void warmJobs(const WarmOptions &o, const HostPort &target, const std::vector<Job> &jobs,
              std::atomic<std::size_t> &next, Clock::time_point t0, WarmTally &tally) {
    HttpClient client(target, o.timeoutSeconds);
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
        if (o.rate > 0) // job i starts at t0 + i/rate: the rate holds across connections
            std::this_thread::sleep_until(
                t0 + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(static_cast<double>(i) / o.rate)));
        HttpReply reply;
        if (std::string failure = client.roundTrip(jobRequest(jobs[i]), reply); !failure.empty()) {
            tally.record({WarmResult::Error, failure});
            continue;
        }
        reply.headers.joinFields("cache-status", {}); // every line of it: one list (RFC 9211)
        tally.record(classifyAnswer(reply.status, reply.headers.get("cache-status").value_or("")));
    }
}

// Waits for the threads' work to be done, printing progress each second on a terminal, every
// 5 s into a log.
void showProgress(const WarmOptions &o, const WarmTally &tally, std::size_t total,
                  Clock::time_point t0) {
    const bool tty = isatty(2);
    auto line = [&](const WarmTally::Counts &c, bool last) {
        double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        std::fprintf(stderr,
                     "%swarm: %zu/%zu (%.0f%%) %.1f/s  stored %zu  fresh %zu  not storable %zu  "
                     "errors %zu%s",
                     tty ? "\r" : "", c.done, total,
                     100.0 * static_cast<double>(c.done) / static_cast<double>(total),
                     secs > 0 ? static_cast<double>(c.done) / secs : 0.0, c.stored,
                     c.fresh + c.stale + c.revalidated, c.notStorable, c.errors,
                     tty && !last ? "   " : "\n");
        std::fflush(stderr);
    };
    for (int tick = 0; tally.counts().done < total;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!o.quiet && ++tick % (tty ? 10 : 50) == 0)
            line(tally.counts(), false);
    }
    if (!o.quiet)
        line(tally.counts(), true);
}

void printSummary(const WarmOptions &o, const Collector &c, const WarmTally::Counts &t, double secs,
                  unsigned threads) {
    std::printf("warmed %zu request(s) for %zu URL(s) from %zu source(s)%s through %s in %.1f s "
                "(%.1f/s, concurrency %u)\n",
                c.jobs.size(),
                o.encodings.empty() ? c.jobs.size() : c.jobs.size() / o.encodings.size(),
                o.sources.empty() ? std::size_t(1) : o.sources.size(),
                c.sitemaps_ ? (" (" + std::to_string(c.sitemaps_) + " sitemap(s))").c_str() : "",
                o.target.c_str(), secs, secs > 0 ? static_cast<double>(c.jobs.size()) / secs : 0.0,
                threads);
    std::printf("  stored              %zu\n", t.stored);
    std::printf("  already fresh       %zu\n", t.fresh);
    std::printf("  stale, refreshing   %zu\n", t.stale);
    std::printf("  revalidated         %zu\n", t.revalidated);
    std::printf("  not storable        %zu%s%s%s\n", t.notStorable, t.notStorable ? "  (" : "",
                kinds(t.notStorableWhy).c_str(), t.notStorable ? ")" : "");
    std::printf("  errors              %zu%s%s%s\n", t.errors, t.errors ? "  (" : "",
                kinds(t.errorKinds).c_str(), t.errors ? ")" : "");
    if (c.skipped_)
        std::printf("  skipped             %zu (not http/https URLs)\n", c.skipped_);
    std::fflush(stdout);
}

} // namespace

int runWarm(const WarmOptions &o) {
    if (o.concurrency == 0 || o.rate < 0) {
        std::fprintf(stderr, "frontcache warm: --concurrency must be at least 1 and --rate "
                             "not negative\n");
        return 2;
    }
    auto target = splitHostPort(o.target, "80");
    if (!target) {
        std::fprintf(stderr, "frontcache warm: --target \"%s\": expected HOST:PORT\n",
                     o.target.c_str());
        return 2;
    }
    Collector c(o);
    bool allRead = true;
    for (const auto &s : o.sources.empty() ? std::vector<std::string>{"-"} : o.sources)
        allRead = c.add(s, 0) && allRead;
    if (c.jobs.empty()) {
        std::fprintf(stderr, "frontcache warm: no URLs to warm\n");
        return 2;
    }
    if (std::string err = HttpClient(*target, o.timeoutSeconds).connect(); !err.empty()) {
        std::fprintf(stderr, "frontcache warm: cannot reach frontcache at %s: %s\n",
                     o.target.c_str(), err.c_str());
        return 2;
    }

    WarmTally tally;
    std::atomic<std::size_t> next{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    const unsigned n = static_cast<unsigned>(std::min<std::size_t>(o.concurrency, c.jobs.size()));
    for (unsigned k = 0; k < n; ++k)
        threads.emplace_back([&] { warmJobs(o, *target, c.jobs, next, t0, tally); });
    showProgress(o, tally, c.jobs.size(), t0);
    for (auto &t : threads)
        t.join();

    const WarmTally::Counts t = tally.counts();
    printSummary(o, c, t, std::chrono::duration<double>(Clock::now() - t0).count(), n);
    return t.errors || !allRead ? 1 : 0;
}

} // namespace fc::tools
