#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "benchmarks/load/runfile.h"

using namespace fc::bench;

namespace {
std::vector<std::string> load(const std::string &toml, RunFile &rf) {
    std::string path = "/tmp/fc_runfile_" + std::to_string(::getpid()) + ".toml";
    std::ofstream(path) << toml;
    auto errors = loadRunFile(path, rf);
    std::remove(path.c_str());
    for (auto &e : errors) // report paths independent of the temp name
        e = e.substr(e.find(".toml") + 5);
    return errors;
}
} // namespace

TEST_CASE("a multi-mechanize-style run file") {
    RunFile rf;
    auto errors = load(R"(
run_time = "20s"
rampup = "5s"
results_ts_interval = "2s"
threads = 2
target = "http://127.0.0.1:8080"

[[user_group]]
name = "readers"
users = 30
urls = [{url = "/", weight = 3}, {url = "/about", weight = 1}]
headers = ["Accept-Language: en"]
think_time = "500ms"

[[user_group]]
users = 5
url = "/search"
timeout = "2s"
)",
                       rf);
    REQUIRE(errors.empty());
    CHECK(rf.options.durationS == 20);
    CHECK(rf.options.rampupS == 5);
    CHECK(rf.options.intervalS == 2);
    CHECK(rf.options.threads == 2);
    CHECK(rf.target == "http://127.0.0.1:8080");
    REQUIRE(rf.options.groups.size() == 2);
    const UserGroup &r = rf.options.groups[0];
    CHECK(r.name == "readers");
    CHECK(r.users == 30);
    CHECK(r.paths == std::vector<std::string>{"/", "/about"});
    CHECK(r.weights == std::vector<double>{3, 1});
    CHECK(r.headers == std::vector<std::string>{"Accept-Language: en"});
    CHECK(r.thinkS == 0.5);
    CHECK(rf.options.groups[1].name == "group2");
    CHECK(rf.options.groups[1].timeoutS == 2);
    CHECK(rf.options.users == 35);
}

TEST_CASE("run file errors name line, column and key") {
    RunFile a;
    auto e = load("run_time = 30\n[[user_group]]\nusers = 1\nurl = \"/\"\n", a);
    REQUIRE(e.size() == 1);
    CHECK(e[0] == ":1:12: run_time: expected a duration string such as \"30s\"");
    RunFile b;
    e = load("[[user_group]]\nusers = 0\nurl = \"x\"\nbogus = 1\n", b);
    REQUIRE(e.size() == 4);
    auto has = [&](const std::string &want) {
        for (auto &x : e)
            if (x.find(want) != std::string::npos)
                return true;
        return false;
    };
    CHECK(has(":2:9: user_group[0].users: must be at least 1"));
    CHECK(has(":4:1: user_group[0].bogus: unknown key"));
    CHECK(has("user_group[0].users: missing"));
    CHECK(has("\"x\" must be a path starting with /"));
    RunFile c;
    e = load("run_time = \"10s\"\n", c);
    REQUIRE(e.size() == 1);
    CHECK(e[0].find("no [[user_group]]") != std::string::npos);
    RunFile d;
    e = load("[[user_group]]\nusers = 1\nurl = \"/\"\nheaders = [\"no colon\"]\ntarget = 1\n", d);
    CHECK(e.size() == 2);
    RunFile f;
    e = load("run_time = = 1\n", f);
    REQUIRE(e.size() == 1);
    CHECK(e[0].find("syntax error") != std::string::npos);
}
