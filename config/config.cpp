#include "config/loader.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace fc::config {

std::string UpstreamConfig::describe() const {
    std::string out;
    for (const auto &s : servers) {
        out += (out.empty() ? "" : ", ") + s.url;
        if (s.weight != 1 || s.backup)
            out += " (" + (s.weight != 1 ? "weight " + std::to_string(s.weight) : "") +
                   (s.weight != 1 && s.backup ? ", " : "") + (s.backup ? "backup" : "") + ")";
    }
    return out;
}

std::string SocketAddress::text() const {
    return ipv6 ? "[" + host + "]:" + std::to_string(port) : host + ":" + std::to_string(port);
}

Result<SocketAddress> parseSocketAddress(std::string_view text) {
    SocketAddress a;
    std::string_view hostPart, portPart;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return Error{"expected \"[v6-address]:port\""};
        hostPart = text.substr(1, close - 1);
        portPart = text.substr(close + 2);
        a.ipv6 = true;
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return Error{"expected \"address:port\", e.g. \"127.0.0.1:8080\""};
        hostPart = text.substr(0, colon);
        portPart = text.substr(colon + 1);
        if (hostPart.find(':') != std::string_view::npos)
            return Error{"an IPv6 address must be in brackets: \"[::1]:8080\""};
    }
    a.host = std::string(hostPart);
    unsigned char buf[16];
    if (inet_pton(a.ipv6 ? AF_INET6 : AF_INET, a.host.c_str(), buf) != 1)
        return Error{"\"" + a.host + "\" is not a numeric IP address"};
    if (portPart.empty() || portPart.size() > 5)
        return Error{"port must be a number from 0 to 65535"};
    unsigned port = 0;
    for (char c : portPart) {
        if (c < '0' || c > '9')
            return Error{"port must be a number from 0 to 65535"};
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port > 65535)
        return Error{"port " + std::to_string(port) + " out of range (0-65535)"};
    a.port = static_cast<std::uint16_t>(port);
    return a;
}

std::vector<std::string> exposureWarnings(const Config &c) {
    static const std::vector<AddressBlock> kLoopback = {*AddressBlock::parse("127.0.0.0/8"),
                                                        *AddressBlock::parse("::1")};
    std::vector<std::string> out;
    const MemcachedConfig &mc = c.memcached;
    if (mc.listen && !mc.authUsers && !inAnyBlock(kLoopback, mc.listen->host))
        out.push_back("memcached.listen " + mc.listen->text() +
                      " is not on loopback and memcached.auth_file is not set: anyone who can "
                      "reach it can read every cached page, store pages that HTTP clients are "
                      "then served as hits, and flush the cache; bind it to 127.0.0.1 or ::1, "
                      "set memcached.auth_file, or firewall it");
    if (c.admin.listen && c.admin.token.empty() && !inAnyBlock(kLoopback, c.admin.listen->host))
        out.push_back("admin.listen " + c.admin.listen->text() +
                      " is not on loopback and admin.token is empty: anyone who reaches it may "
                      "purge and flush");
    return out;
}

// A small file named in the config, read whole when the config is loaded: opened without
// blocking (a FIFO would wait for a writer), refused unless a regular file of at most `maxBytes`.
// A `secret` (memcached.auth_file) is also refused when other users can read or write it: a
// password file anyone on the host can read hands the port to every local user, and one they can
// write lets them add themselves (ssh refuses such key files for the same reasons); the group may
// read it, so root:frontcache 0640 works.
Result<std::string> readSmallFile(const std::string &path, std::size_t maxBytes, bool secret) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return Error{"cannot open " + path + ": " + std::strerror(errno)};
    struct stat st {};
    std::string text;
    std::string problem;
    if (::fstat(fd, &st) != 0) {
        problem = "cannot stat " + path + ": " + std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        problem = path + " is not a regular file";
    } else if (secret && (st.st_mode & (S_IROTH | S_IWOTH))) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        problem = path + " can be read or written by other users (mode " + mode +
                  "): it holds passwords; chmod 600 it (or 640 for a group)";
    } else if (static_cast<std::uint64_t>(st.st_size) > maxBytes) {
        problem = path + " is larger than " + std::to_string(maxBytes >> 10) + " KiB";
    } else {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                problem = "cannot read " + path + ": " + std::strerror(errno);
                break;
            }
            if (n == 0)
                break;
            text.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    if (!problem.empty())
        return Error{problem};
    return text;
}

Result<AuthUsers> readAuthFile(const std::string &path) {
    Result<std::string> text = readSmallFile(path, 1 << 20, true);
    if (!text)
        return Error{text.error()};
    return AuthUsers::parse(*text, path);
}

void Loader::error(const toml::source_region &where, std::string_view key, const std::string &msg) {
    std::ostringstream os;
    os << file_ << ':' << where.begin.line << ':' << where.begin.column << ": " << key << ": "
       << msg;
    errors_.push_back(os.str());
}

void Loader::section(const toml::table &root, std::string_view name, const Section &fields) {
    const toml::node *n = root.get(name);
    if (!n)
        return;
    const toml::table *t = n->as_table();
    if (!t) {
        error(n->source(), name, "expected a table ([" + std::string(name) + "])");
        return;
    }
    for (auto &&[k, v] : *t) {
        std::string full = std::string(name) + "." + std::string(k.str());
        auto it = fields.find(k.str());
        if (it == fields.end()) {
            error(k.source(), full, "unknown key");
            continue;
        }
        it->second(v, full);
    }
}

Loader::Handler Loader::duration(Millis &out, Millis min) {
    return [this, &out, min](const toml::node &n, const std::string &key) {
        Result<Millis> r = Error{""};
        if (auto s = n.as_string())
            r = parseDuration(s->get());
        else if (auto i = n.as_integer())
            r = i->get() < 0 ? Result<Millis>(Error{"must not be negative"})
                             : parseDuration(std::to_string(i->get()));
        else
            r = Error{"expected a duration string such as \"30s\" or a number of seconds"};
        if (!r)
            return error(n.source(), key, r.error());
        if (*r < min)
            return error(n.source(), key, "must be at least " + std::to_string(min.count()) + "ms");
        out = *r;
    };
}

Loader::Handler Loader::size(std::uint64_t &out, std::uint64_t min) {
    return [this, &out, min](const toml::node &n, const std::string &key) {
        Result<std::uint64_t> r = Error{""};
        if (auto s = n.as_string())
            r = parseSize(s->get());
        else if (auto i = n.as_integer())
            r = i->get() < 0 ? Result<std::uint64_t>(Error{"must not be negative"})
                             : Result<std::uint64_t>(static_cast<std::uint64_t>(i->get()));
        else
            r = Error{"expected a size string such as \"64MiB\" or a number of bytes"};
        if (!r)
            return error(n.source(), key, r.error());
        if (*r < min)
            return error(n.source(), key, "must be at least " + std::to_string(min) + " bytes");
        out = *r;
    };
}

Loader::Handler Loader::string(std::string &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        auto s = n.as_string();
        if (!s)
            return error(n.source(), key, "expected a string");
        out = s->get();
    };
}

Loader::Handler Loader::boolean(bool &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        auto b = n.as_boolean();
        if (!b)
            return error(n.source(), key, "expected true or false");
        out = b->get();
    };
}

Loader::Handler Loader::address(std::optional<SocketAddress> &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        auto s = n.as_string();
        if (!s)
            return error(n.source(), key, "expected a string \"address:port\"");
        if (s->get().empty()) { // "" switches the listener off
            out.reset();
            return;
        }
        auto a = parseSocketAddress(s->get());
        if (!a)
            return error(n.source(), key, a.error());
        out = *a;
    };
}

Loader::Handler Loader::addressList(std::vector<SocketAddress> &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        std::vector<const toml::node *> items;
        if (n.is_string())
            items.push_back(&n);
        else if (auto arr = n.as_array())
            for (auto &e : *arr)
                items.push_back(&e);
        else
            return error(n.source(), key, "expected \"address:port\" or a list of them");
        if (items.empty())
            return error(n.source(), key, "needs at least one address");
        std::vector<SocketAddress> result;
        for (auto *e : items) {
            auto s = e->as_string();
            if (!s)
                return error(e->source(), key, "expected a string \"address:port\"");
            auto a = parseSocketAddress(s->get());
            if (!a)
                return error(e->source(), key, a.error());
            result.push_back(*a);
        }
        out = std::move(result);
    };
}

Loader::Handler Loader::stringList(std::vector<std::string> &out, const char *listError,
                                   const char *itemError, std::string_view forbidden) {
    return
        [this, &out, listError, itemError, forbidden](const toml::node &n, const std::string &key) {
            auto arr = n.as_array();
            if (!arr)
                return error(n.source(), key, listError);
            std::vector<std::string> v;
            for (auto &e : *arr) {
                auto s = e.as_string();
                if (!s || s->get().empty() ||
                    (!forbidden.empty() && s->get().find_first_of(forbidden) != std::string::npos))
                    return error(e.source(), key, itemError);
                v.push_back(s->get());
            }
            out = std::move(v);
        };
}

Loader::Handler Loader::patternList(std::vector<std::string> &out) {
    return stringList(out, "expected a list of names such as [\"utm_*\"]",
                      "expected names or patterns such as \"_ga_*\" (no spaces, '=', ';', "
                      "',' or '&')",
                      " \t\r\n=;,&");
}

Loader::Handler Loader::codingList(std::vector<std::string> &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        stringList(out, "expected a list such as [\"br\", \"gzip\"]",
                   "expected \"br\", \"gzip\" or \"zstd\"")(n, key);
        for (std::size_t i = 0; i < out.size(); ++i) {
            const std::string &name = out[i];
            if (name != "br" && name != "gzip" && name != "zstd")
                return error(n.source(), key,
                             "\"" + name +
                                 "\" is not a coding frontcache makes (expected "
                                 "\"br\", \"gzip\" or \"zstd\")");
            for (std::size_t j = 0; j < i; ++j)
                if (out[j] == name)
                    return error(n.source(), key, "\"" + name + "\" is listed twice");
        }
    };
}

Loader::Handler Loader::mediaTypeList(std::vector<std::string> &out) {
    return [this, &out](const toml::node &n, const std::string &key) {
        stringList(out, "expected a list of media types such as [\"text/*\"]",
                   "expected media types such as \"application/json\" (no spaces, "
                   "';' or ',')",
                   " \t\r\n;,")(n, key);
        for (auto &t : out) {
            if (t.find('/') == std::string::npos)
                return error(n.source(), key, "\"" + t + "\" is not a media type (type/subtype)");
            for (char &ch : t)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
    };
}

bool Loader::upstreamUrl(const toml::node &n, const std::string &key, UpstreamServer &up) {
    auto s = n.as_string();
    if (!s) {
        error(n.source(), key, "expected a string such as \"http://127.0.0.1:8000\"");
        return false;
    }
    const std::string &url = s->get();
    up.url = url;
    if (url.rfind("unix:", 0) == 0) {
        up.kind = UpstreamServer::Kind::Unix;
        up.path = url.substr(5);
        if (up.path.empty() || up.path.size() > 107)
            return fail(n.source(), key, "expected \"unix:/path/to.sock\" (path 1-107 bytes)");
        return true;
    }
    if (url.rfind("https://", 0) == 0)
        return fail(n.source(), key, "https upstreams are not supported; use http:// or unix:");
    if (url.rfind("http://", 0) != 0)
        return fail(n.source(), key,
                    "expected \"http://host:port\" or \"unix:/path\", got \"" + url + "\"");
    std::string rest = url.substr(7);
    if (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    if (rest.find('/') != std::string::npos || rest.find('?') != std::string::npos)
        return fail(n.source(), key, "a path in the upstream URL is not supported");
    up.kind = UpstreamServer::Kind::Tcp;
    std::string hostPart = rest, portPart = "80";
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos)
            return fail(n.source(), key, "unterminated IPv6 address");
        hostPart = rest.substr(1, close - 1);
        if (close + 1 < rest.size()) {
            if (rest[close + 1] != ':')
                return fail(n.source(), key, "expected ':' after ']'");
            portPart = rest.substr(close + 2);
        }
    } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
        hostPart = rest.substr(0, colon);
        portPart = rest.substr(colon + 1);
    }
    if (hostPart.empty())
        return fail(n.source(), key, "missing host");
    if (portPart.empty() || portPart.size() > 5 ||
        portPart.find_first_not_of("0123456789") != std::string::npos)
        return fail(n.source(), key, "port must be a number from 1 to 65535");
    unsigned long port = std::stoul(portPart);
    if (port == 0 || port > 65535)
        return fail(n.source(), key, "port " + portPart + " out of range (1-65535)");
    up.host = hostPart;
    up.port = static_cast<std::uint16_t>(port);
    return true;
}

void Loader::upstreamServers(const toml::node &n, const std::string &key, UpstreamConfig &up) {
    auto arr = n.as_array();
    if (!arr || arr->empty())
        return error(n.source(), key,
                     "expected a list of server URLs such as [\"http://10.0.0.1:8000\", "
                     "\"http://10.0.0.2:8000\"]");
    if (arr->size() > UpstreamConfig::kMaxServers)
        return error(n.source(), key,
                     "at most " + std::to_string(UpstreamConfig::kMaxServers) + " servers");
    std::vector<UpstreamServer> list;
    for (auto &e : *arr) {
        UpstreamServer one;
        if (const toml::table *t = e.as_table()) {
            for (auto &&[k, v] : *t) {
                if (k.str() == "url") {
                    if (!upstreamUrl(v, key, one))
                        return;
                } else if (k.str() == "weight") {
                    integer(one.weight, 1, 1000)(v, key + ".weight");
                } else if (k.str() == "backup") {
                    boolean(one.backup)(v, key + ".backup");
                } else {
                    return error(k.source(), key,
                                 "unknown key \"" + std::string(k.str()) +
                                     "\" (expected url, weight, backup)");
                }
            }
            if (!t->get("url"))
                return error(e.source(), key, "each server table needs url = \"http://...\"");
        } else if (!upstreamUrl(e, key, one)) {
            return;
        }
        for (const auto &other : list)
            if (other.url == one.url)
                return error(e.source(), key, "\"" + one.url + "\" is listed twice");
        list.push_back(std::move(one));
    }
    if (std::all_of(list.begin(), list.end(), [](const UpstreamServer &s) { return s.backup; }))
        return error(n.source(), key, "every server is a backup: at least one must not be");
    up.servers = std::move(list);
}

} // namespace fc::config
