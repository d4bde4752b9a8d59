// cache.group_fields (config.h, CacheConfig; cache/groups.h reads the fields it names). The rest
// of the loader is in load.cpp and config.cpp.
#include <cctype>

#include "config/loader.h"

namespace fc::config {

namespace {
// The fields cache/groups.h knows how to read: each has its own syntax, so no other name can be
// accepted. Compared without regard to case, as field names are (RFC 9110 §5.1).
constexpr const char *kGroupFields[] = {"Cache-Groups", "Surrogate-Key", "Cache-Tag", "xkey"};

bool sameName(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}
} // namespace

Loader::Handler Loader::groupFieldList(std::vector<std::string> &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        stringList(out, "expected a list of field names such as [\"Cache-Groups\", \"xkey\"]",
                   "expected field names such as \"Cache-Groups\"")(n, key);
        for (std::size_t i = 0; i < out.size(); ++i) {
            bool known = false;
            for (const char *f : kGroupFields)
                if (sameName(out[i], f)) {
                    out[i] = f; // its canonical spelling
                    known = true;
                }
            if (!known)
                return error(n.source(), key,
                             "\"" + out[i] +
                                 "\" is not a field cache groups are read from (expected "
                                 "\"Cache-Groups\", \"Surrogate-Key\", \"Cache-Tag\" or \"xkey\")");
            for (std::size_t j = 0; j < i; ++j)
                if (out[j] == out[i])
                    return error(n.source(), key, "\"" + out[i] + "\" is listed twice");
        }
    };
}

} // namespace fc::config
