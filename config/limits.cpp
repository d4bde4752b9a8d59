// [limits] (config.h, LimitsConfig) and the readers only it uses; the rest of the loader is in
// load.cpp and config.cpp.
#include <cctype>
#include <cstdlib>

#include "config/loader.h"

namespace fc::config {

Loader::Handler Loader::addressBlocks(std::vector<std::string> &text,
                                      std::vector<AddressBlock> &out) {
    return [this, &text, &out](const toml::node &n, const std::string &key) {
        stringList(text)(n, key);
        out.clear();
        for (const auto &t : text) {
            if (auto b = AddressBlock::parse(t))
                out.push_back(*b);
            else
                error(n.source(), key,
                      "\"" + t +
                          "\" is not an address or CIDR block (e.g. \"10.0.0.0/8\", \"::1\")");
        }
    };
}

Loader::Handler Loader::rate(double &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        const char *expected = "expected requests per second (a number, 0 = unlimited) or "
                               "\"N/s\", \"N/m\", \"N/h\" (e.g. \"30/m\")";
        double v = -1;
        if (auto i = n.as_integer())
            v = static_cast<double>(i->get());
        else if (auto f = n.as_floating_point())
            v = f->get();
        else if (auto s = n.as_string()) {
            const std::string &t = s->get();
            char *end = nullptr;
            const double count = std::strtod(t.c_str(), &end);
            const std::string per = end ? std::string(end) : "";
            const double seconds = per == "/s" ? 1 : per == "/m" ? 60 : per == "/h" ? 3600 : 0;
            if (end != t.c_str() && seconds > 0 && std::isdigit(static_cast<unsigned char>(t[0])))
                v = count / seconds;
        }
        // 0 (unlimited), or from one a day to a million a second.
        if (!(v == 0 || (v >= 1.0 / 86400 && v <= 1e6)))
            return error(n.source(), key,
                         std::string(expected) + "; at least 1 a day (\"1/h\"...)");
        out = v;
    };
}

void Loader::loadLimits(const toml::table &root, LimitsConfig &c) {
    section(root, "limits",
            {{"rate", rate(c.rate)},
             {"burst", integer(c.burst, 1, 1000000)},
             {"mode", choice(c.dryRun, {{"enforce", false}, {"dry_run", true}})},
             {"allow", addressBlocks(c.allowText, c.allow)},
             {"classes", [&](const toml::node &n, const std::string &key) {
                  auto *arr = n.as_array();
                  if (!arr || arr->size() > LimitsConfig::kMaxClasses)
                      return error(n.source(), key,
                                   "expected at most 15 tables [[limits.classes]] with name, "
                                   "user_agent, rate and burst");
                  c.classes.clear();
                  for (auto &e : *arr) {
                      const toml::table *t = e.as_table();
                      if (!t)
                          return error(e.source(), key, "each class is a table");
                      LimitClass one;
                      for (auto &&[k, v] : *t) {
                          const std::string sub = key + "." + std::string(k.str());
                          if (k.str() == "name")
                              string(one.name)(v, sub);
                          else if (k.str() == "user_agent")
                              stringList(one.userAgents)(v, sub);
                          else if (k.str() == "rate")
                              rate(one.rate)(v, sub);
                          else if (k.str() == "burst")
                              integer(one.burst, 1, 1000000)(v, sub);
                          else
                              return error(k.source(), key,
                                           "unknown key \"" + std::string(k.str()) +
                                               "\" (expected name, user_agent, rate, burst)");
                      }
                      if (one.name.empty() || one.userAgents.empty() || !t->get("rate"))
                          return error(e.source(), key,
                                       "each class needs a name, user_agent patterns and a rate "
                                       "(0 = unlimited, said explicitly)");
                      if (one.name.find_first_of(" \t") != std::string::npos)
                          return error(e.source(), key, "a class name has no spaces");
                      for (auto &p : one.userAgents)
                          for (char &ch : p)
                              ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                      c.classes.push_back(std::move(one));
                  }
              }}});
    // A bucket holds at most a year of requests: `burst` at `rate` (GCRA's clock has 48 bits).
    auto tooLong = [](double rate, unsigned burst) {
        return rate > 0 && burst / rate > 365.0 * 86400;
    };
    bool bad = tooLong(c.rate, c.burst);
    for (const auto &cl : c.classes)
        bad = bad || tooLong(cl.rate, cl.burst);
    if (bad)
        if (auto *t = root.get("limits"))
            error(t->source(), "limits", "burst / rate is more than a year: lower the burst");
}

} // namespace fc::config
