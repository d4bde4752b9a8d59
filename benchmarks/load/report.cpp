#include "benchmarks/load/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#ifndef FC_BENCH_VERSION
#define FC_BENCH_VERSION "0.0.0"
#endif

namespace fc::bench {

namespace {

std::string fmt(const char *f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}
double ms(double ns) {
    return ns / 1e6;
}
double rate(const Series &s) {
    return s.stats.elapsedS > 0 ? s.stats.total.requests / s.stats.elapsedS : 0;
}
std::uint64_t errors(const Series &s) {
    return s.stats.total.errorCount();
}
double errorRate(const Series &s) {
    std::uint64_t attempts = s.stats.total.requests + s.stats.total.errors[kConnect] +
                             s.stats.total.errors[kTimeout] + s.stats.total.errors[kReset];
    return attempts ? 100.0 * static_cast<double>(errors(s)) / static_cast<double>(attempts) : 0;
}

std::string escape(const std::string &s) {
    std::string o;
    for (char c : s) {
        if (c == '<')
            o += "&lt;";
        else if (c == '>')
            o += "&gt;";
        else if (c == '&')
            o += "&amp;";
        else if (c == '"')
            o += "&quot;";
        else
            o += c;
    }
    return o;
}

const char *kColors[] = {"#d9534f", "#2a7ae2", "#5cb85c", "#f0ad4e"};

// 0.01, 0.1, 1, 10, 100, 1k, 10k, 100k, 1M: a decade's label.
std::string roundLabel(double v) {
    if (v >= 1e6)
        return fmt("%.0fM", v / 1e6);
    if (v >= 1e3)
        return fmt("%.0fk", v / 1e3);
    if (v >= 1)
        return fmt("%.0f", v);
    if (v >= 0.1)
        return fmt("%.1f", v);
    if (v >= 0.01)
        return fmt("%.2f", v);
    return fmt("%g", v);
}

// A simple SVG line/scatter chart. x and y are data coordinates; the chart scales them.
struct Chart {
    Chart(std::string t, std::string x, std::string y)
        : title(std::move(t)), xLabel(std::move(x)), yLabel(std::move(y)) {}
    std::string title, xLabel, yLabel;
    double xMax = 1, yMax = 1;
    double yMin = 0.01; // log scale: the lowest value drawn (rounded down to a decade)
    bool logY = false;
    std::ostringstream body;
    static constexpr double W = 860, H = 300, L = 70, R = 20, T = 30, B = 45;
    double px(double x) const { return L + (W - L - R) * (xMax > 0 ? x / xMax : 0); }
    // Log scale: whole decades from below yMin to above yMax, so the ticks are round numbers.
    double decadeLo() const { return std::floor(std::log10(std::max(yMin, 1e-6)) + 1e-9); }
    double decadeHi() const {
        return std::max(decadeLo() + 1, std::ceil(std::log10(std::max(yMax, yMin)) - 1e-9));
    }
    // Linear scale: a round step (1, 2 or 5 times a power of ten), about four to the axis.
    double linearStep() const {
        double raw = std::max(yMax, 1e-9) / 4, p = std::pow(10.0, std::floor(std::log10(raw)));
        for (double m : {1.0, 2.0, 5.0, 10.0})
            if (m * p >= raw)
                return m * p;
        return 10 * p;
    }
    // Rounds yMax up to a whole step, so the top line is labelled too.
    void roundUp() { yMax = std::ceil(yMax / linearStep() - 1e-9) * linearStep(); }
    double py(double y) const {
        double f;
        if (logY) {
            double lo = decadeLo(), hi = decadeHi();
            f = (std::log10(std::max(y, std::pow(10.0, lo))) - lo) / (hi - lo);
        } else {
            f = yMax > 0 ? y / yMax : 0;
        }
        return H - B - (H - T - B) * std::clamp(f, 0.0, 1.0);
    }
    void line(const std::vector<std::pair<double, double>> &pts, const char *color,
              const char *dash = "") {
        if (pts.empty())
            return;
        body << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
             << (*dash ? " stroke-dasharray=\"" : "") << dash << (*dash ? "\"" : "")
             << " points=\"";
        for (auto &[x, y] : pts)
            body << fmt("%.1f", px(x)) << ',' << fmt("%.1f", py(y)) << ' ';
        body << "\"/>\n";
    }
    void dots(const std::vector<std::pair<double, double>> &pts, const char *color) {
        body << "<g fill=\"" << color << "\" fill-opacity=\"0.25\">";
        for (auto &[x, y] : pts)
            body << "<circle cx=\"" << fmt("%.1f", px(x)) << "\" cy=\"" << fmt("%.1f", py(y))
                 << "\" r=\"1.5\"/>";
        body << "</g>\n";
    }
    std::string svg(const std::vector<std::pair<std::string, const char *>> &legend) const {
        std::ostringstream o;
        o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
          << "\" role=\"img\" aria-label=\"" << escape(title) << "\">\n"
          << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
          << "<text x=\"" << L << "\" y=\"18\" font-size=\"14\" font-weight=\"bold\">"
          << escape(title) << "</text>\n";
        // axes and grid: a labelled line per decade (log) or per quarter (linear)
        auto gridLine = [&](double y, const std::string &label, const char *stroke) {
            o << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << y << "\" y2=\"" << y
              << "\" stroke=\"" << stroke << "\"/>";
            if (!label.empty())
                o << "<text x=\"" << L - 6 << "\" y=\"" << y + 4
                  << "\" font-size=\"11\" text-anchor=\"end\">" << label << "</text>";
            o << "\n";
        };
        if (logY) {
            for (double k = decadeLo(); k <= decadeHi() + 1e-9; ++k) {
                gridLine(py(std::pow(10.0, k)), roundLabel(std::pow(10.0, k)), "#ccc");
                if (k < decadeHi() - 1e-9)
                    for (double m : {2.0, 5.0})
                        gridLine(py(m * std::pow(10.0, k)), "", "#eee");
            }
        } else {
            for (double v = 0; v <= yMax * (1 + 1e-9); v += linearStep())
                gridLine(py(v),
                         v >= 1000 ? roundLabel(v) : fmt(v == std::floor(v) ? "%.0f" : "%.1f", v),
                         "#ddd");
        }
        for (int i = 0; i <= 5; ++i) {
            double x = px(xMax * i / 5);
            o << "<text x=\"" << x << "\" y=\"" << H - B + 16
              << "\" font-size=\"11\" text-anchor=\"middle\">"
              << fmt(xMax >= 50 ? "%.0f" : "%.1f", xMax * i / 5) << "</text>\n";
        }
        o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 8
          << "\" font-size=\"12\" text-anchor=\"middle\">" << escape(xLabel) << "</text>\n"
          << "<text x=\"14\" y=\"" << (T + H - B) / 2
          << "\" font-size=\"12\" transform=\"rotate(-90 14 " << (T + H - B) / 2
          << ")\" text-anchor=\"middle\">" << escape(yLabel) << "</text>\n"
          << body.str();
        double lx = L + 10;
        for (auto &[name, color] : legend) {
            o << "<rect x=\"" << lx << "\" y=\"" << T + 2 << "\" width=\"12\" height=\"12\" fill=\""
              << color << "\"/><text x=\"" << lx + 16 << "\" y=\"" << T + 12
              << "\" font-size=\"12\">" << escape(name) << "</text>\n";
            lx += 28 + 7.0 * static_cast<double>(name.size());
        }
        o << "</svg>\n";
        return o.str();
    }
};

} // namespace

std::string summaryTable(const std::vector<Series> &series, const LoadOptions &opt) {
    std::ostringstream o;
    o << (opt.rate > 0 ? "open loop at " + fmt("%.0f", opt.rate) + " req/s, "
                       : std::string("closed loop, "))
      << opt.users << " users, " << fmt("%.0f", opt.durationS) << " s each\n\n";
    auto row = [&](const std::string &label, auto value, bool ratio) {
        o << "  " << label;
        for (std::size_t i = label.size(); i < 22; ++i)
            o << ' ';
        for (auto &s : series) {
            std::string v = value(s);
            for (std::size_t i = v.size(); i < 16; ++i)
                o << ' ';
            o << v;
        }
        if (ratio && series.size() == 2) {
            std::string a = value(series[0]), b = value(series[1]);
            double x = std::atof(a.c_str()), y = std::atof(b.c_str());
            o << "      " << (x > 0 ? fmt("%.3gx", y / x) : std::string("-"));
        }
        o << '\n';
    };
    o << "  ";
    for (std::size_t i = 0; i < 22; ++i)
        o << ' ';
    for (auto &s : series) {
        std::string n = s.name.substr(0, 15);
        for (std::size_t i = n.size(); i < 16; ++i)
            o << ' ';
        o << n;
    }
    if (series.size() == 2)
        o << "      ratio";
    o << '\n';
    row(
        "transactions", [](const Series &s) { return std::to_string(s.stats.total.requests); },
        true);
    row(
        "throughput (req/s)", [](const Series &s) { return fmt("%.1f", rate(s)); }, true);
    row(
        "mean (ms)",
        [](const Series &s) { return fmt("%.2f", ms(s.stats.total.latency.meanNs())); }, true);
    for (double q : {50.0, 90.0, 99.0, 99.9}) {
        std::string label = "p" + fmt(q == 99.9 ? "%.1f" : "%.0f", q) + " (ms)";
        row(
            label,
            [q](const Series &s) { return fmt("%.2f", ms(s.stats.total.latency.percentileNs(q))); },
            true);
    }
    row(
        "max (ms)",
        [](const Series &s) {
            return fmt("%.2f", ms(static_cast<double>(s.stats.total.latency.maxNs())));
        },
        true);
    row(
        "errors", [](const Series &s) { return std::to_string(errors(s)); }, false);
    row(
        "error rate (%)", [](const Series &s) { return fmt("%.2f", errorRate(s)); }, false);
    for (int k = 0; k < kErrorKinds; ++k)
        row(
            std::string("  ") + errorName(k),
            [k](const Series &s) { return std::to_string(s.stats.total.errors[k]); }, false);
    return o.str();
}

std::string writeResults(const std::string &dir, const std::vector<Series> &series,
                         const LoadOptions &opt, const std::vector<Attachment> &attachments) {
    std::string path;
    for (std::size_t i = 0; i <= dir.size(); ++i)
        if (i == dir.size() || dir[i] == '/') {
            path = dir.substr(0, i);
            if (!path.empty())
                ::mkdir(path.c_str(), 0755);
        }
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return "cannot create " + dir;
    const std::string table = summaryTable(series, opt);
    std::ofstream(dir + "/summary.txt") << table;
    {
        std::ofstream csv(dir + "/intervals.csv");
        csv << "series,group,interval_start_s,requests,throughput_rps,errors,mean_ms,p50_ms,"
               "p90_ms,p99_ms,max_ms";
        for (int k = 0; k < kErrorKinds; ++k)
            csv << ',' << errorName(k);
        csv << '\n';
        for (auto &s : series)
            for (const GroupStats &g : s.stats.groups)
                for (std::size_t i = 0; i < g.intervals.size(); ++i) {
                    const IntervalStats &iv = g.intervals[i];
                    double t0 = static_cast<double>(i) * opt.intervalS;
                    if (t0 >= s.stats.elapsedS - 1e-9)
                        continue;
                    double width = std::min(opt.intervalS, s.stats.elapsedS - t0);
                    csv << s.name << ',' << g.name << ',' << t0 << ',' << iv.requests << ','
                        << fmt("%.2f", iv.requests / width) << ',' << iv.errorCount() << ','
                        << fmt("%.3f", ms(iv.latency.meanNs())) << ','
                        << fmt("%.3f", ms(iv.latency.percentileNs(50))) << ','
                        << fmt("%.3f", ms(iv.latency.percentileNs(90))) << ','
                        << fmt("%.3f", ms(iv.latency.percentileNs(99))) << ','
                        << fmt("%.3f", ms(static_cast<double>(iv.latency.maxNs())));
                    for (int k = 0; k < kErrorKinds; ++k)
                        csv << ',' << iv.errors[k];
                    csv << '\n';
                }
    }
    {
        std::ofstream js(dir + "/summary.json");
        js << "{\n  \"users\": " << opt.users << ",\n  \"duration_s\": " << opt.durationS
           << ",\n  \"rate\": " << opt.rate << ",\n  \"series\": [\n";
        for (std::size_t i = 0; i < series.size(); ++i) {
            const Series &s = series[i];
            const auto &h = s.stats.total.latency;
            js << "    {\"name\": \"" << s.name << "\", \"url\": \"" << s.url
               << "\", \"transactions\": " << s.stats.total.requests
               << ", \"elapsed_s\": " << fmt("%.3f", s.stats.elapsedS)
               << ", \"throughput_rps\": " << fmt("%.2f", rate(s))
               << ", \"mean_ms\": " << fmt("%.3f", ms(h.meanNs()))
               << ", \"p50_ms\": " << fmt("%.3f", ms(h.percentileNs(50)))
               << ", \"p90_ms\": " << fmt("%.3f", ms(h.percentileNs(90)))
               << ", \"p99_ms\": " << fmt("%.3f", ms(h.percentileNs(99)))
               << ", \"p999_ms\": " << fmt("%.3f", ms(h.percentileNs(99.9)))
               << ", \"max_ms\": " << fmt("%.3f", ms(static_cast<double>(h.maxNs())))
               << ", \"errors\": " << errors(s)
               << ", \"error_rate_pct\": " << fmt("%.3f", errorRate(s))
               << ", \"errors_by_kind\": {";
            for (int k = 0; k < kErrorKinds; ++k)
                js << (k ? ", " : "") << '"' << errorName(k) << "\": " << s.stats.total.errors[k];
            js << "}}" << (i + 1 < series.size() ? "," : "") << '\n';
        }
        js << "  ]\n}\n";
    }
    // report.html
    double tMax = opt.durationS, latMax = 0.1, latMin = 1e9, rpsMax = 1, rpsMin = 1e12, pMax = 0.1,
           errMax = 0;
    bool anyErrors = false;
    for (auto &s : series) {
        latMax = std::max(latMax, ms(static_cast<double>(s.stats.total.latency.maxNs())));
        latMin = std::min(latMin, ms(s.stats.total.latency.percentileNs(0)));
        pMax = std::max(pMax, ms(s.stats.total.latency.percentileNs(99.9)));
        for (auto &iv : s.stats.intervals) {
            rpsMax = std::max(rpsMax, iv.requests / opt.intervalS);
            if (iv.requests > 0)
                rpsMin = std::min(rpsMin, iv.requests / opt.intervalS);
            for (int k = 0; k < kErrorKinds; ++k)
                errMax = std::max(errMax, iv.errors[k] / opt.intervalS);
        }
        anyErrors = anyErrors || errors(s) > 0;
    }
    Chart lat{
        "Response time over time (dots: sampled requests; solid: mean; dashed: p90 per interval)",
        "seconds since start", "response time (ms, log scale)"};
    lat.xMax = tMax;
    lat.yMax = latMax;
    lat.yMin = std::clamp(latMin, 0.001, latMax);
    lat.logY = true;
    // Log scale, so a run at 100 req/s and one at 100,000 req/s are both readable.
    Chart thr{"Throughput over time", "seconds since start", "requests per second (log scale)"};
    thr.xMax = tMax;
    thr.yMax = rpsMax;
    thr.yMin = std::min(rpsMin, rpsMax);
    thr.logY = true;
    Chart dist{"Latency distribution (percentile of requests under the response time)",
               "percentile", "response time (ms, log scale)"};
    dist.xMax = 100;
    dist.yMax = pMax;
    dist.yMin = lat.yMin;
    dist.logY = true;
    Chart err{anyErrors ? "Errors per second by kind (one dash pattern per kind)"
                        : "Errors per second by kind: none in any run",
              "seconds since start", "errors per second"};
    err.xMax = tMax;
    err.yMax = std::max(1.0, errMax);
    err.roundUp();
    std::vector<std::pair<std::string, const char *>> errLegend;
    static const char *kDash[] = {"", "6,3", "2,3", "10,3,2,3", "4,6", "1,2"};
    std::vector<std::pair<std::string, const char *>> legend;
    for (std::size_t i = 0; i < series.size(); ++i) {
        const Series &s = series[i];
        const char *c = kColors[i % 4];
        legend.push_back({s.name, c});
        std::vector<std::pair<double, double>> pts, mean, p90, rps, pct;
        for (auto &sm : s.stats.samples)
            pts.push_back({sm.tS, std::max(0.01, static_cast<double>(sm.latencyMs))});
        for (std::size_t k = 0; k < s.stats.intervals.size(); ++k) {
            const IntervalStats &iv = s.stats.intervals[k];
            double mid = (static_cast<double>(k) + 0.5) * opt.intervalS;
            if (static_cast<double>(k) * opt.intervalS >= s.stats.elapsedS - 1e-9)
                break;
            mid = std::min(mid, s.stats.elapsedS);
            rps.push_back({mid, iv.requests / opt.intervalS});
            if (iv.requests) {
                mean.push_back({mid, ms(iv.latency.meanNs())});
                p90.push_back({mid, ms(iv.latency.percentileNs(90))});
            }
        }
        for (double q = 0; q <= 99.9; q += (q < 90 ? 2.5 : q < 99 ? 0.5 : 0.1))
            pct.push_back({q, ms(s.stats.total.latency.percentileNs(q))});
        lat.dots(pts, c);
        lat.line(mean, c);
        lat.line(p90, c, "6,4");
        thr.line(rps, c);
        dist.line(pct, c);
        for (int kind = 0; kind < kErrorKinds; ++kind) {
            if (s.stats.total.errors[kind] == 0)
                continue;
            std::vector<std::pair<double, double>> perS;
            for (std::size_t k = 0; k < s.stats.intervals.size(); ++k) {
                if (static_cast<double>(k) * opt.intervalS >= s.stats.elapsedS - 1e-9)
                    break;
                double mid =
                    std::min((static_cast<double>(k) + 0.5) * opt.intervalS, s.stats.elapsedS);
                perS.push_back({mid, s.stats.intervals[k].errors[kind] / opt.intervalS});
            }
            err.line(perS, c, kDash[kind % 6]);
            errLegend.push_back({s.name + ": " + errorName(kind), c});
        }
    }
    std::ofstream html(dir + "/report.html");
    html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>frontcache-bench report</title><style>body{font-family:sans-serif;margin:24px;"
            "color:#222}pre{background:#f6f6f6;padding:12px}svg{display:block;margin:16px 0;"
            "border:1px solid #eee}</style></head><body>\n<h1>frontcache-bench report</h1>\n<p>";
    for (auto &s : series)
        html << "<b>" << escape(s.name) << "</b>: " << escape(s.url) << "<br>";
    html << "</p>\n<pre id=\"summary\">" << escape(table) << "</pre>\n"
         << lat.svg(legend) << thr.svg(legend) << dist.svg(legend)
         << err.svg(errLegend.empty() ? legend : errLegend);
    // How the runs were made: the same load options for every series, and what the caller
    // attached (the demo: the proxy's config, the origin's command line, the versions).
    html << "<h2>Runs</h2>\n<table id=\"runs\" border=\"1\" cellpadding=\"4\" "
            "style=\"border-collapse:collapse\"><tr><th>series</th><th>URL</th><th>elapsed (s)"
            "</th></tr>\n";
    for (auto &s : series)
        html << "<tr><td>" << escape(s.name) << "</td><td>" << escape(s.url) << "</td><td>"
             << fmt("%.1f", s.stats.elapsedS) << "</td></tr>\n";
    html << "</table>\n<pre id=\"options\">load: "
         << (opt.rate > 0 ? "open loop at " + fmt("%.0f", opt.rate) + " req/s"
                          : std::string("closed loop"))
         << ", " << opt.users << " users, " << fmt("%.0f", opt.durationS) << " s, ramp-up "
         << fmt("%.0f", opt.rampupS) << " s, " << opt.threads << " threads, timeout "
         << fmt("%.0f", opt.timeoutS) << " s, think " << fmt("%.3f", opt.thinkS) << " s, interval "
         << fmt("%.0f", opt.intervalS) << " s";
    for (auto &h : opt.headers)
        html << "\nheader: " << escape(h);
    html << "\ngenerator: frontcache-bench " << FC_BENCH_VERSION << "</pre>\n";
    for (auto &[name, text] : attachments)
        html << "<h3>" << escape(name) << "</h3>\n<pre class=\"attachment\">" << escape(text)
             << "</pre>\n";
    html << "<p>Files: summary.txt, summary.json, intervals.csv (one row per interval per "
            "series).</p></body></html>\n";
    return {};
}

} // namespace fc::bench
