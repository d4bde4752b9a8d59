#include "tools/top.h"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tools/http_client.h"

namespace fc::tools {

namespace {

// The admin port answers within this, or top says it does not.
constexpr double kTimeoutSeconds = 2;
// /metrics grows with the upstream servers and /top with its page lists; neither comes near.
constexpr std::size_t kMaxBody = 64u << 20;

// One GET to the admin port (which closes the connection after each answer); the body, or ""
// with `error` set.
std::string fetch(const std::string &admin, const std::string &token, const char *path,
                  std::string &error) {
    auto server = splitHostPort(admin, nullptr);
    if (!server) {
        error = "expected HOST:PORT, got " + admin;
        return {};
    }
    HttpClient client(std::move(*server), kTimeoutSeconds, kMaxBody);
    if (std::string err = client.connect(); !err.empty()) {
        error = "cannot connect to " + admin + ": " + err;
        return {};
    }
    std::string fields = token.empty() ? "" : "Authorization: Bearer " + token + "\r\n";
    HttpReply reply;
    if (std::string err = client.roundTrip(getRequest(path, admin, fields), reply); !err.empty()) {
        error = std::string("no answer to GET ") + path + " from " + admin + ": " + err;
        return {};
    }
    if (reply.status != 200) {
        error = reply.status == 401
                    ? "the admin port wants a token: --token or FRONTCACHE_ADMIN_TOKEN"
                    : std::string("unexpected answer to GET ") + path + " from " + admin;
        return {};
    }
    return std::move(reply.body);
}

// Prometheus text: "name{labels} value" -> value.
std::map<std::string, double> parseMetrics(const std::string &text) {
    std::map<std::string, double> m;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        std::string line =
            text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        pos = eol == std::string::npos ? text.size() : eol + 1;
        if (line.empty() || line[0] == '#')
            continue;
        std::size_t sp = line.rfind(' ');
        if (sp != std::string::npos)
            m[line.substr(0, sp)] = std::atof(line.c_str() + sp + 1);
    }
    return m;
}

struct Snapshot {
    std::map<std::string, double> m;
    std::string top;
    std::chrono::steady_clock::time_point at;
};

double get(const Snapshot &s, const std::string &k) {
    auto it = s.m.find(k);
    return it == s.m.end() ? 0 : it->second;
}

// The upstream time at quantile q from the histogram's bucket deltas between two snapshots.
double quantileMs(const Snapshot &a, const Snapshot &b, double q) {
    const std::string name = "frontcache_upstream_response_seconds_bucket{le=\"";
    std::vector<std::pair<double, double>> buckets; // (bound, cumulative delta)
    for (const auto &[k, v] : b.m)
        if (k.rfind(name, 0) == 0) {
            std::string le = k.substr(name.size(), k.size() - name.size() - 2);
            double bound = le == "+Inf" ? INFINITY : std::atof(le.c_str());
            buckets.emplace_back(bound, v - get(a, k));
        }
    std::sort(buckets.begin(), buckets.end());
    if (buckets.empty() || buckets.back().second <= 0)
        return NAN;
    const double want = q * buckets.back().second;
    for (const auto &[bound, n] : buckets)
        if (n >= want)
            return std::isinf(bound) ? NAN : bound * 1000;
    return NAN;
}

std::string human(double bytes) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    char b[32];
    std::snprintf(b, sizeof b, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return b;
}

std::string fit(std::string s, std::size_t width) {
    if (s.size() > width)
        s = s.substr(0, width - 1) + "~";
    return s;
}

// What changed between two snapshots, per second.
struct Delta {
    const Snapshot &a, &b;
    double dt;
    double rate(const std::string &k) const { return (get(b, k) - get(a, k)) / dt; }
};

std::string milliseconds(double ms) {
    return std::isnan(ms) ? "-" : std::to_string(static_cast<int>(ms + 0.5)) + " ms";
}

// The summary: requests by cache status, hit ratio, upstream, store and clients.
void summaryLines(const std::string &admin, const Delta &d, std::vector<std::string> &lines) {
    const Snapshot &b = d.b;
    char l[256];
    std::snprintf(l, sizeof l, "frontcache top - %s - up %.0f s   (q quits)", admin.c_str(),
                  std::time(nullptr) - get(b, "frontcache_start_time_seconds"));
    lines.emplace_back(l);
    const char *kinds[] = {"hit", "miss", "stale", "revalidated", "not_modified", "bypass"};
    double total = 0, cached = 0;
    std::string by;
    for (const char *k : kinds) {
        double r = d.rate(std::string("frontcache_requests_total{cache=\"") + k + "\"}");
        total += r;
        if (std::strcmp(k, "miss") && std::strcmp(k, "bypass"))
            cached += r;
        std::snprintf(l, sizeof l, " %s %.0f", std::strcmp(k, "not_modified") ? k : "304", r);
        by += l;
    }
    std::snprintf(l, sizeof l, "requests/s %.0f:%s", total, by.c_str());
    lines.push_back(fit(l, 80));
    std::snprintf(l, sizeof l, "hit ratio  %5.1f %%   from the store %s/s   stores/s %.0f",
                  total > 0 ? 100 * cached / total : 0.0,
                  human(d.rate("frontcache_bytes_from_cache_total")).c_str(),
                  d.rate("frontcache_stores_total"));
    lines.push_back(fit(l, 80));
    std::snprintf(
        l, sizeof l, "upstream   p50 %s  p99 %s   in flight %.0f   waits/s %.0f   errors/s %.0f",
        milliseconds(quantileMs(d.a, b, 0.5)).c_str(),
        milliseconds(quantileMs(d.a, b, 0.99)).c_str(), get(b, "frontcache_fetches_in_flight"),
        d.rate("frontcache_coalesced_waits_total"),
        d.rate("frontcache_upstream_errors_total{status=\"502\"}") +
            d.rate("frontcache_upstream_errors_total{status=\"503\"}") +
            d.rate("frontcache_upstream_errors_total{status=\"504\"}"));
    lines.push_back(fit(l, 80));
    const double used = get(b, "frontcache_store_bytes"),
                 limit = get(b, "frontcache_store_limit_bytes");
    std::snprintf(l, sizeof l, "store      %s of %s (%.0f %%)   items %.0f   evictions/s %.0f",
                  human(used).c_str(), human(limit).c_str(), limit > 0 ? 100 * used / limit : 0.0,
                  get(b, "frontcache_store_items"), d.rate("frontcache_store_evictions_total"));
    lines.push_back(fit(l, 80));
    std::snprintf(l, sizeof l, "clients    %.0f connections   upstream fetches %.0f",
                  get(b, "frontcache_client_connections"), get(b, "frontcache_upstream_fetches"));
    lines.push_back(fit(l, 80));
}

// Upstream servers (four at most): up or down, requests and failures per second.
void serverLines(const Delta &d, std::vector<std::string> &lines) {
    const std::string up = "frontcache_upstream_server_up{server=\"";
    int shown = 0;
    char l[256];
    for (const auto &[k, v] : d.b.m) {
        if (k.rfind(up, 0) != 0 || shown >= 4)
            continue;
        std::string server = k.substr(up.size(), k.size() - up.size() - 2);
        std::string label = "{server=\"" + server + "\"}";
        std::snprintf(l, sizeof l, "%s %-4s %6.0f req/s %4.0f fail/s  %s",
                      shown ? "          " : "servers   ", v > 0 ? "up" : "DOWN",
                      d.rate("frontcache_upstream_server_requests_total" + label),
                      d.rate("frontcache_upstream_server_failures_total" + label), server.c_str());
        lines.push_back(fit(l, 80));
        ++shown;
    }
}

// The pages most missed and most hit: GET /top's last second (sampled), side by side in the
// rows the screen has left.
void pageLines(const std::string &top, std::vector<std::string> &lines) {
    std::vector<std::string> misses, hits;
    std::string stride = "1";
    std::size_t pos = 0;
    while (pos < top.size()) {
        std::size_t eol = top.find('\n', pos);
        std::string line = top.substr(pos, eol - pos);
        pos = eol == std::string::npos ? top.size() : eol + 1;
        if (line.rfind("stride ", 0) == 0)
            stride = line.substr(7);
        else if (line.rfind("miss ", 0) == 0)
            misses.push_back(line.substr(5));
        else if (line.rfind("hit ", 0) == 0)
            hits.push_back(line.substr(4));
    }
    lines.push_back("");
    std::string heading = "most missed (last s, 1 in " + stride + ")";
    heading.resize(40, ' ');
    heading += "most hit";
    lines.push_back(heading);
    const std::size_t rows = std::min<std::size_t>(24 - lines.size(), 10);
    for (std::size_t i = 0; i < rows && (i < misses.size() || i < hits.size()); ++i) {
        std::string left = i < misses.size() ? fit(misses[i], 39) : "";
        left.resize(40, ' ');
        lines.push_back(fit(left + (i < hits.size() ? fit(hits[i], 39) : ""), 80));
    }
    if (misses.empty() && hits.empty())
        lines.push_back("(no page requests sampled in the last second)");
}

// The screen: at most 24 lines of at most 80 columns.
std::string render(const std::string &admin, const Snapshot &a, const Snapshot &b) {
    const Delta d{a, b, std::max(1e-3, std::chrono::duration<double>(b.at - a.at).count())};
    std::vector<std::string> lines;
    summaryLines(admin, d, lines);
    serverLines(d, lines);
    pageLines(b.top, lines);
    std::string out;
    for (std::size_t i = 0; i < lines.size() && i < 24; ++i)
        out += lines[i] + "\n";
    return out;
}

bool snap(const std::string &admin, const std::string &token, Snapshot &s, std::string &error) {
    std::string metrics = fetch(admin, token, "/metrics", error);
    if (!error.empty())
        return false;
    s.top = fetch(admin, token, "/top", error);
    if (!error.empty())
        return false;
    s.m = parseMetrics(metrics);
    s.at = std::chrono::steady_clock::now();
    return true;
}

termios gSaved;
bool gRaw = false;
void restoreTerminal() {
    if (gRaw) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &gSaved);
        std::fputs("\x1b[?25h\n", stdout); // the cursor back
        std::fflush(stdout);
        gRaw = false;
    }
}

} // namespace

int runTop(const std::string &admin, bool once, const std::string &token) {
    std::string error;
    Snapshot a, b;
    if (!snap(admin, token, a, error)) { // also starts the admin port's page sampling
        std::fprintf(stderr, "frontcache top: %s\n", error.c_str());
        return 1;
    }
    const bool interactive = !once && ::isatty(STDOUT_FILENO) && ::isatty(STDIN_FILENO);
    if (!interactive) {
        ::usleep(1100 * 1000); // one whole sampling second
        if (!snap(admin, token, b, error)) {
            std::fprintf(stderr, "frontcache top: %s\n", error.c_str());
            return 1;
        }
        std::fputs(render(admin, a, b).c_str(), stdout);
        return 0;
    }
    ::tcgetattr(STDIN_FILENO, &gSaved);
    termios raw = gSaved;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    gRaw = true;
    std::atexit(restoreTerminal);
    std::signal(SIGINT, [](int) {
        restoreTerminal();
        std::_Exit(0);
    });
    std::fputs("\x1b[?25l", stdout); // no cursor while drawing
    for (;;) {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, 1, 1000) > 0) {
            char c = 0;
            if (::read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
                break;
            continue;
        }
        if (!snap(admin, token, b, error)) {
            restoreTerminal();
            std::fprintf(stderr, "frontcache top: %s\n", error.c_str());
            return 1;
        }
        std::string screen = render(admin, a, b);
        std::string framed = "\x1b[H\x1b[2J";
        for (std::size_t i = 0; i < screen.size(); ++i)
            framed += screen[i] == '\n' ? std::string("\r\n") : std::string(1, screen[i]);
        std::fputs(framed.c_str(), stdout);
        std::fflush(stdout);
        a = std::move(b);
    }
    restoreTerminal();
    return 0;
}

} // namespace fc::tools
