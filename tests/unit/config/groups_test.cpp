// config/groups.cpp: cache.group_fields and cache.forward_group_aliases.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/config.h"

using namespace fc::config;

namespace {
std::string onlyError(const std::string &toml) {
    auto r = loadConfigString(toml, "test.toml");
    if (r.config)
        return "";
    REQUIRE(r.errors.size() == 1);
    return r.errors[0];
}
bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}
} // namespace

TEST_CASE("cache groups: the fields read, the aliases forwarded or not") {
    auto d = loadConfigString("", "test.toml");
    REQUIRE(d.config);
    CHECK(d.config->cache.groupFields ==
          std::vector<std::string>{"Cache-Groups", "Surrogate-Key", "Cache-Tag", "xkey"});
    CHECK_FALSE(d.config->cache.forwardGroupAliases);
    auto r = loadConfigString("[cache]\ngroup_fields = [\"cache-groups\", \"XKEY\"]\n"
                              "forward_group_aliases = true\n",
                              "test.toml");
    REQUIRE(r.config);
    CHECK(r.config->cache.groupFields == std::vector<std::string>{"Cache-Groups", "xkey"});
    CHECK(r.config->cache.forwardGroupAliases);
    auto off = loadConfigString("[cache]\ngroup_fields = []\n", "test.toml");
    REQUIRE(off.config);
    CHECK(off.config->cache.groupFields.empty());
    CHECK(contains(onlyError("[cache]\ngroup_fields = [\"Surrogate-Control\"]\n"),
                   "test.toml:2:16: cache.group_fields: \"Surrogate-Control\" is not a field "
                   "cache groups are read from"));
    CHECK(contains(onlyError("[cache]\ngroup_fields = [\"xkey\", \"XKey\"]\n"),
                   "cache.group_fields: \"xkey\" is listed twice"));
    CHECK(contains(onlyError("[cache]\ngroup_fields = \"xkey\"\n"),
                   "test.toml:2:16: cache.group_fields: expected a list of field names"));
    CHECK(contains(onlyError("[cache]\nforward_group_aliases = \"yes\"\n"),
                   "test.toml:2:25: cache.forward_group_aliases"));
}
