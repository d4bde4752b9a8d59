#include "proxy/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace fc::proxy {

namespace {

constexpr std::int64_t kRetryMaxMs = 5000; // a failed lookup is tried again within this

// The DNS servers of upstream.resolver as c-ares reads them ("a:port,[v6]:port"), ports
// defaulting to 53 (the loader has checked each is a numeric address).
std::string aresServers(const std::string &list) {
    std::string out;
    std::string_view rest = list;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view one = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
        while (!one.empty() && one.front() == ' ')
            one.remove_prefix(1);
        while (!one.empty() && one.back() == ' ')
            one.remove_suffix(1);
        if (one.empty())
            continue;
        std::string s(one);
        const bool bracketed = s.front() == '[';
        const auto colons = std::count(s.begin(), s.end(), ':');
        if (!bracketed && colons > 1)
            s = "[" + s + "]:53"; // a bare IPv6 address
        else if ((bracketed && s.find("]:") == std::string::npos) || (!bracketed && colons == 0))
            s += ":53";
        out += (out.empty() ? "" : ",") + s;
    }
    return out;
}

} // namespace

// One blocking lookup on a channel of its own (a thread-pool thread runs it): c-ares'
// getaddrinfo — the hosts file, then DNS — with poll() on its sockets until it answers.
LookupAnswer lookupNow(const std::string &host, std::uint16_t port, const std::string &list,
                       int timeoutMs) {
    const std::string servers = aresServers(list);
    LookupAnswer a;
    ares_channel ch = nullptr;
    ares_options opts{};
    opts.timeout = std::min(timeoutMs, 500);
    opts.tries = 2;
    if (int rc = ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
        rc != ARES_SUCCESS) {
        a.error = std::string("c-ares: ") + ares_strerror(rc);
        return a;
    }
    if (!servers.empty())
        if (int rc = ares_set_servers_ports_csv(ch, servers.c_str()); rc != ARES_SUCCESS) {
            a.error = std::string("upstream.resolver: ") + ares_strerror(rc);
            ares_destroy(ch);
            return a;
        }
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NUMERICSERV;
    const std::string service = std::to_string(port);
    bool done = false;
    struct Ctx {
        LookupAnswer *a;
        bool *done;
    } ctx{&a, &done};
    ares_getaddrinfo(
        ch, host.c_str(), service.c_str(), &hints,
        [](void *arg, int status, int, ares_addrinfo *res) {
            auto *c = static_cast<Ctx *>(arg);
            *c->done = true;
            if (status != ARES_SUCCESS) {
                c->a->error = ares_strerror(status);
            } else {
                for (ares_addrinfo_node *n = res ? res->nodes : nullptr; n; n = n->ai_next) {
                    if (n->ai_addrlen > sizeof(sockaddr_storage))
                        continue;
                    sockaddr_storage s{};
                    std::memcpy(&s, n->ai_addr, n->ai_addrlen);
                    c->a->addresses.push_back(s);
                    if (c->a->ttl < 0 || n->ai_ttl < c->a->ttl)
                        c->a->ttl = std::max(0, n->ai_ttl);
                }
            }
            if (res)
                ares_freeaddrinfo(res);
        },
        &ctx);
    while (!done) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        const int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        pollfd fds[ARES_GETSOCK_MAXNUM];
        nfds_t n = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
            const bool r = ARES_GETSOCK_READABLE(bits, i), w = ARES_GETSOCK_WRITABLE(bits, i);
            if (!r && !w)
                continue;
            fds[n++] = {socks[i], static_cast<short>((r ? POLLIN : 0) | (w ? POLLOUT : 0)), 0};
        }
        timeval tv{}, max{};
        max.tv_sec = 1;
        ares_timeout(ch, &max, &tv);
        const int ms = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000);
        if (::poll(fds, n, ms) <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); // timeouts
            continue;
        }
        for (nfds_t i = 0; i < n; ++i)
            ares_process_fd(
                ch, (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
    }
    ares_destroy(ch);
    if (a.error.empty() && a.addresses.empty())
        a.error = "no address";
    return a;
}

namespace {

bool sameAddress(const sockaddr_storage &a, const sockaddr_storage &b) {
    if (a.ss_family != b.ss_family)
        return false;
    if (a.ss_family == AF_INET) {
        const auto &x = reinterpret_cast<const sockaddr_in &>(a);
        const auto &y = reinterpret_cast<const sockaddr_in &>(b);
        return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
    }
    const auto &x = reinterpret_cast<const sockaddr_in6 &>(a);
    const auto &y = reinterpret_cast<const sockaddr_in6 &>(b);
    return x.sin6_port == y.sin6_port &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
}

std::string numeric(const sockaddr_storage &a) {
    char host[NI_MAXHOST] = "?";
    getnameinfo(reinterpret_cast<const sockaddr *>(&a), sizeof a, host, sizeof host, nullptr, 0,
                NI_NUMERICHOST);
    return host;
}

bool isLiteral(const std::string &host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

} // namespace

// One configured server and the slots its addresses hold.
struct Resolver::Group {
    std::size_t id = 0;
    config::UpstreamServer server;
    bool name = false;              // a host name: looked up again while running
    std::vector<std::size_t> slots; // Warming and Live (not retiring)
    uv_timer_t *timer = nullptr;    // the next lookup (names); freed in its close callback
    bool looking = false;
    std::int64_t lastGoodMs = -1;
    std::uint64_t ok = 0, failed = 0;
    std::string lastError;
};

// A lookup in flight on the thread pool; deleted in its after-work callback.
struct Resolver::Lookup {
    uv_work_t req;
    Resolver *owner;
    std::size_t groupId;
    std::string host, servers;
    std::uint16_t port;
    int timeoutMs;
    LookupAnswer answer;
};

Resolver::Resolver(uv_loop_t *loop, Balancer &balancer, HealthChecker &health,
                   const config::UpstreamConfig &cfg)
    : loop_(loop), balancer_(balancer), health_(health), cfg_(cfg) {
    ares_library_init(ARES_LIB_INIT_ALL);
    for (const auto &s : cfg.servers)
        addGroup(s);
    // The start-up targets were made in upstream.servers' order, tagged with its index.
    for (std::size_t i = 0; i < balancer_.size(); ++i)
        if (std::size_t g = balancer_.target(i).group; g < groups_.size())
            groups_[g]->slots.push_back(i);
}

Resolver::~Resolver() {
    close();
}

Resolver::Group &Resolver::addGroup(const config::UpstreamServer &s) {
    auto g = std::make_unique<Group>();
    g->id = nextId_++;
    g->server = s;
    g->name = s.kind == config::UpstreamServer::Kind::Tcp && !isLiteral(s.host);
    groups_.push_back(std::move(g));
    return *groups_.back();
}

Resolver::Group *Resolver::find(std::size_t id) {
    for (auto &g : groups_)
        if (g->id == id)
            return g.get();
    return nullptr;
}

void Resolver::start() {
    for (auto &g : groups_)
        if (g->name) {
            g->lastGoodMs = nowMs(); // resolved at start-up
            schedule(*g, cfg_.resolveMinTtl.count());
        }
}

void Resolver::schedule(Group &g, std::int64_t ms) {
    if (closed_ || !g.name)
        return;
    if (!g.timer) {
        g.timer = new uv_timer_t;
        uv_timer_init(loop_, g.timer);
    }
    g.timer->data = this; // the group is the one whose timer fired
    uv_timer_start(
        g.timer,
        [](uv_timer_t *t) noexcept {
            auto *self = static_cast<Resolver *>(t->data);
            for (auto &grp : self->groups_)
                if (grp->timer == t)
                    self->lookup(*grp);
        },
        static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0)), 0);
}

void Resolver::lookup(Group &g) {
    if (closed_ || g.looking)
        return;
    g.looking = true;
    if (busy_)
        return; // lookupNext() starts it when the one in flight ends
    busy_ = true;
    auto *l = new Lookup;
    l->req.data = l;
    l->owner = this;
    l->groupId = g.id;
    l->host = g.server.host;
    l->port = g.server.port;
    l->servers = cfg_.resolver;
    l->timeoutMs =
        static_cast<int>(std::clamp<std::int64_t>(cfg_.connectTimeout.count(), 200, 5000));
    const int rc = uv_queue_work(
        loop_, &l->req,
        [](uv_work_t *w) noexcept {
            auto *lk = static_cast<Lookup *>(w->data);
            lk->answer = lookupNow(lk->host, lk->port, lk->servers, lk->timeoutMs);
        },
        [](uv_work_t *w, int) noexcept {
            auto *lk = static_cast<Lookup *>(w->data);
            if (lk->owner)
                lk->owner->answered(lk->groupId, *lk);
            delete lk;
        });
    if (rc < 0) {
        delete l;
        g.looking = false;
        busy_ = false;
        schedule(g, kRetryMaxMs);
    }
}

// The next name waiting for its turn (its timer fired while another lookup ran).
void Resolver::lookupNext() {
    busy_ = false;
    for (auto &g : groups_)
        if (g->looking) {
            g->looking = false;
            lookup(*g);
            return;
        }
}

void Resolver::answered(std::size_t groupId, Lookup &l) {
    Group *g = find(groupId);
    if (g)
        g->looking = false;
    if (!closed_)
        lookupNext();
    if (closed_ || !g)
        return; // the server was removed by a reload meanwhile
    const std::int64_t now = nowMs();
    const LookupAnswer &a = l.answer;
    if (!a.error.empty()) {
        ++g->failed;
        if (g->lastError != a.error)
            FC_WARN("upstream %s: lookup failed (%s); keeping its %zu address(es)",
                    g->server.url.c_str(), a.error.c_str(), g->slots.size());
        g->lastError = a.error;
        schedule(*g, std::max(cfg_.resolveMinTtl.count(),
                              std::min(kRetryMaxMs, cfg_.resolveMaxTtl.count())));
        return;
    }
    ++g->ok;
    g->lastGoodMs = now;
    g->lastError.clear();
    for (const auto &addr : a.addresses) {
        bool known = false;
        for (std::size_t s : g->slots)
            known = known || sameAddress(balancer_.target(s).addr, addr);
        // Back in the answer before it was retired (a flapping record): it simply stays.
        for (auto it = retiring_.begin(); !known && it != retiring_.end(); ++it)
            if (it->group == g->id && sameAddress(balancer_.target(it->slot).addr, addr)) {
                g->slots.push_back(it->slot);
                retiring_.erase(it);
                known = true;
                break;
            }
        if (!known)
            addAddress(*g, addr);
    }
    // Addresses gone from the answer: retired once another server is in rotation.
    std::vector<std::size_t> kept;
    for (std::size_t s : g->slots) {
        bool still = false;
        for (const auto &addr : a.addresses)
            still = still || sameAddress(balancer_.target(s).addr, addr);
        if (still) {
            kept.push_back(s);
        } else if (balancer_.phase(s) == Balancer::Phase::Warming) {
            balancer_.retire(s, now); // never in rotation: nothing to wait for
        } else {
            FC_INFO("upstream %s: %s no longer in its answer; draining it once another serves",
                    g->server.url.c_str(), numeric(balancer_.target(s).addr).c_str());
            retiring_.push_back({s, g->id});
        }
    }
    g->slots = std::move(kept);
    retirePending();
    health_.sync();
    const std::int64_t ttlMs = a.ttl < 0 ? cfg_.resolveMaxTtl.count() : std::int64_t{a.ttl} * 1000;
    schedule(*g, std::clamp(ttlMs, cfg_.resolveMinTtl.count(), cfg_.resolveMaxTtl.count()));
}

void Resolver::addAddress(Group &g, const sockaddr_storage &addr) {
    UpstreamTarget t = targetFor(g.server, g.id);
    t.addr = addr;
    t.display = g.server.url + " (" + numeric(addr) + ")";
    const int slot = balancer_.add(std::move(t), false, nowMs());
    if (slot < 0) {
        FC_WARN("upstream %s: no room for %s (at most %zu addresses, draining ones included)",
                g.server.url.c_str(), numeric(addr).c_str(), Balancer::kSlots);
        return;
    }
    FC_INFO("upstream %s: new address %s; checking it before use", g.server.url.c_str(),
            numeric(addr).c_str());
    g.slots.push_back(static_cast<std::size_t>(slot));
}

// Retires what waits to, once a server not among them is in rotation.
void Resolver::retirePending() {
    if (retiring_.empty())
        return;
    auto pending = [&](std::size_t slot) {
        return std::any_of(retiring_.begin(), retiring_.end(),
                           [&](const Retiring &r) { return r.slot == slot; });
    };
    // A replacement serves: Live, up (not left out by a check or failures), not itself leaving.
    auto serves = [&](std::size_t group) {
        for (std::size_t i = 0; i < balancer_.size(); ++i) {
            if (balancer_.phase(i) != Balancer::Phase::Live || !balancer_.up(i) || pending(i))
                continue;
            const UpstreamTarget &t = balancer_.target(i);
            if (group == kRemoved ? !t.backup : t.group == group)
                return true;
        }
        return false;
    };
    bool changed = false;
    std::erase_if(retiring_, [&](const Retiring &r) {
        if (!serves(r.group))
            return false; // the old address serves until a new one has passed its check
        balancer_.retire(r.slot, nowMs());
        changed = true;
        return true;
    });
    if (changed)
        health_.sync();
}

void Resolver::onPromoted(std::size_t) {
    retirePending();
}

void Resolver::dropGroup(std::size_t index) {
    Group &g = *groups_[index];
    for (std::size_t s : g.slots) {
        if (balancer_.phase(s) == Balancer::Phase::Warming)
            balancer_.retire(s, nowMs());
        else
            retiring_.push_back({s, kRemoved});
    }
    for (auto &r : retiring_) // what the group was already replacing goes with it
        if (r.group == g.id)
            r.group = kRemoved;
    if (g.timer)
        uv_close(reinterpret_cast<uv_handle_t *>(g.timer),
                 [](uv_handle_t *h) noexcept { delete reinterpret_cast<uv_timer_t *>(h); });
    groups_.erase(groups_.begin() + static_cast<std::ptrdiff_t>(index));
}

void Resolver::configure(const config::UpstreamConfig &cfg) {
    const std::int64_t now = nowMs();
    std::vector<bool> kept(cfg.servers.size(), false);
    for (std::size_t i = groups_.size(); i-- > 0;) {
        Group &g = *groups_[i];
        auto it =
            std::find_if(cfg.servers.begin(), cfg.servers.end(),
                         [&](const config::UpstreamServer &s) { return s.url == g.server.url; });
        const auto at = static_cast<std::size_t>(it - cfg.servers.begin());
        if (it == cfg.servers.end() || kept[at]) {
            FC_INFO("reload: upstream %s removed; draining it", g.server.url.c_str());
            dropGroup(i);
            continue;
        }
        kept[at] = true;
        if (it->weight != g.server.weight || it->backup != g.server.backup ||
            it->pool != g.server.pool) {
            for (std::size_t s : g.slots) {
                UpstreamTarget t = balancer_.target(s);
                t.weight = it->weight;
                t.backup = it->backup;
                t.pool = it->pool;
                balancer_.update(s, std::move(t), now);
            }
        }
        g.server = *it;
    }
    cfg_ = cfg;
    for (std::size_t i = 0; i < cfg.servers.size(); ++i) {
        if (kept[i])
            continue;
        Group &g = addGroup(cfg.servers[i]);
        FC_INFO("reload: upstream %s added; checking it before use", g.server.url.c_str());
        if (g.name) {
            schedule(g, 0);
            continue;
        }
        UpstreamTarget t = targetFor(g.server, g.id); // numeric here: names were scheduled
        const int slot = balancer_.add(std::move(t), false, now);
        if (slot < 0)
            FC_WARN("reload: no room for upstream %s (at most %zu addresses, draining ones "
                    "included)",
                    g.server.url.c_str(), Balancer::kSlots);
        else
            g.slots.push_back(static_cast<std::size_t>(slot));
    }
    retirePending();
    health_.sync();
}

void Resolver::close() {
    if (closed_)
        return;
    closed_ = true;
    for (auto &g : groups_)
        if (g->timer) {
            uv_close(reinterpret_cast<uv_handle_t *>(g->timer),
                     [](uv_handle_t *h) noexcept { delete reinterpret_cast<uv_timer_t *>(h); });
            g->timer = nullptr;
        }
}

std::vector<Resolver::NameStatus> Resolver::status() const {
    std::vector<NameStatus> out;
    for (const auto &g : groups_) {
        if (!g->name)
            continue;
        NameStatus s;
        s.url = g->server.url;
        s.addresses = g->slots.size();
        s.lastGoodMs = g->lastGoodMs;
        s.ok = g->ok;
        s.failed = g->failed;
        s.lastError = g->lastError;
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace fc::proxy
