#include "benchmarks/load/runfile.h"

#include <sstream>
#include <toml++/toml.h>

#include "config/units.h"

namespace fc::bench {

namespace {
struct Errors {
    std::string file;
    std::vector<std::string> list;
    void add(const toml::source_region &at, const std::string &key, const std::string &msg) {
        std::ostringstream o;
        o << file << ':' << at.begin.line << ':' << at.begin.column << ": " << key << ": " << msg;
        list.push_back(o.str());
    }
};

bool duration(const toml::node &n, const std::string &key, double &out, Errors &e) {
    auto s = n.as_string();
    if (!s) {
        e.add(n.source(), key, "expected a duration string such as \"30s\"");
        return false;
    }
    auto r = config::parseDuration(s->get());
    if (!r) {
        e.add(n.source(), key, r.error());
        return false;
    }
    out = static_cast<double>(r->count()) / 1000.0;
    return true;
}

bool number(const toml::node &n, const std::string &key, double &out, Errors &e, double min) {
    if (auto i = n.as_integer())
        out = static_cast<double>(i->get());
    else if (auto f = n.as_floating_point())
        out = f->get();
    else {
        e.add(n.source(), key, "expected a number");
        return false;
    }
    if (out < min) {
        e.add(n.source(), key, "must be at least " + std::to_string(static_cast<long>(min)));
        return false;
    }
    return true;
}

void group(const toml::table &t, std::size_t index, RunFile &rf, Errors &e) {
    UserGroup g;
    g.name = "group" + std::to_string(index + 1);
    const std::string prefix = "user_group[" + std::to_string(index) + "].";
    for (auto &&[k, v] : t) {
        const std::string key = prefix + std::string(k.str());
        if (k == "name") {
            if (auto s = v.as_string())
                g.name = s->get();
            else
                e.add(v.source(), key, "expected a string");
        } else if (k == "users") {
            double u;
            if (number(v, key, u, e, 1))
                g.users = static_cast<unsigned>(u);
        } else if (k == "url") {
            if (auto s = v.as_string()) {
                g.paths = {s->get()};
                g.weights = {1};
            } else {
                e.add(v.source(), key, "expected a path such as \"/\"");
            }
        } else if (k == "urls") {
            auto arr = v.as_array();
            if (!arr || arr->empty()) {
                e.add(v.source(), key, "expected a list of {url = \"/\", weight = N}");
                continue;
            }
            for (auto &item : *arr) {
                if (auto s = item.as_string()) {
                    g.paths.push_back(s->get());
                    g.weights.push_back(1);
                } else if (auto tb = item.as_table()) {
                    auto url = tb->get_as<std::string>("url");
                    double w = 1;
                    if (!url) {
                        e.add(item.source(), key, "each entry needs url = \"/path\"");
                        continue;
                    }
                    if (auto *wn = tb->get("weight"); wn && !number(*wn, key + ".weight", w, e, 0))
                        continue;
                    g.paths.push_back(url->get());
                    g.weights.push_back(w);
                } else {
                    e.add(item.source(), key, "expected a path or {url, weight}");
                }
            }
        } else if (k == "headers") {
            auto arr = v.as_array();
            if (!arr) {
                e.add(v.source(), key, "expected a list of \"Name: value\"");
                continue;
            }
            for (auto &h : *arr) {
                auto s = h.as_string();
                if (!s || s->get().find(':') == std::string::npos ||
                    s->get().find_first_of("\r\n") != std::string::npos)
                    e.add(h.source(), key, "expected \"Name: value\"");
                else
                    g.headers.push_back(s->get());
            }
        } else if (k == "think_time") {
            duration(v, key, g.thinkS, e);
        } else if (k == "timeout") {
            duration(v, key, g.timeoutS, e);
        } else {
            e.add(k.source(), key, "unknown key");
        }
    }
    if (g.users == 0)
        e.add(t.source(), prefix + "users", "missing (how many virtual users)");
    if (g.paths.empty())
        e.add(t.source(), prefix + "url", "missing (url = \"/\" or urls = [...])");
    for (auto &p : g.paths)
        if (p.empty() || p[0] != '/')
            e.add(t.source(), prefix + "url", "\"" + p + "\" must be a path starting with /");
    rf.options.groups.push_back(std::move(g));
}
} // namespace

std::vector<std::string> loadRunFile(const std::string &path, RunFile &rf) {
    Errors e{path, {}};
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error &err) {
        std::ostringstream o;
        o << path << ':' << err.source().begin.line << ':' << err.source().begin.column
          << ": syntax error: " << err.description();
        return {o.str()};
    }
    for (auto &&[k, v] : root) {
        const std::string key(k.str());
        if (key == "run_time")
            duration(v, key, rf.options.durationS, e);
        else if (key == "rampup")
            duration(v, key, rf.options.rampupS, e);
        else if (key == "results_ts_interval")
            duration(v, key, rf.options.intervalS, e);
        else if (key == "threads") {
            double t;
            if (number(v, key, t, e, 1))
                rf.options.threads = static_cast<unsigned>(t);
        } else if (key == "rate")
            number(v, key, rf.options.rate, e, 0);
        else if (key == "target") {
            auto s = v.as_string();
            if (!s || s->get().rfind("http://", 0) != 0)
                e.add(v.source(), key, "expected \"http://host:port\"");
            else
                rf.target = s->get();
        } else if (key == "user_group") {
            auto arr = v.as_array();
            if (!arr) {
                e.add(v.source(), key, "expected [[user_group]] tables");
                continue;
            }
            for (std::size_t i = 0; i < arr->size(); ++i) {
                if (auto t = (*arr)[i].as_table())
                    group(*t, i, rf, e);
                else
                    e.add((*arr)[i].source(), key, "expected a table");
            }
        } else {
            e.add(k.source(), key, "unknown key");
        }
    }
    if (rf.options.groups.empty() && e.list.empty())
        e.list.push_back(path + ": no [[user_group]]: at least one is needed");
    if (rf.options.durationS <= 0 || rf.options.intervalS <= 0)
        e.list.push_back(path + ": run_time and results_ts_interval must be > 0");
    unsigned users = 0;
    for (auto &g : rf.options.groups)
        users += g.users;
    rf.options.users = users;
    return e.list;
}

} // namespace fc::bench
