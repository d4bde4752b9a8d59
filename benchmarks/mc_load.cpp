// mc_load: a small pipelined load generator for the memcached text protocol, used to compare
// frontcache's memcached port with a real memcached using the same client, keys and load.
//
//   mc_load PORT [--conns N] [--depth D] [--seconds S] [--keys K] [--value BYTES] [--sets PCT]
//
// Each connection keeps D requests in flight (get of a random preloaded key, or a set for PCT %
// of them) for S seconds; prints "ops_per_sec N". Loopback only (127.0.0.1). Plain epoll: the
// client must cost less than the servers it measures.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct Conn {
    int fd = -1;
    std::string in, out;
    size_t inflight = 0;
    std::vector<char> kinds; // 'g' or 's' per request in flight, in order
    size_t head = 0;
};

int connectTo(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        perror("connect");
        std::exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

void writeAll(int fd, const std::string &s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = write(fd, s.data() + off, s.size() - off);
        if (n > 0)
            off += static_cast<size_t>(n);
        else
            usleep(100);
    }
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: mc_load PORT [--conns N] [--depth D] [--seconds S] "
                             "[--keys K] [--value BYTES] [--sets PCT]\n");
        return 2;
    }
    int port = std::atoi(argv[1]);
    int conns = 50, depth = 8, keys = 10000, valueLen = 100, setPct = 10;
    double seconds = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string o = argv[i];
        if (o == "--conns")
            conns = std::atoi(argv[i + 1]);
        else if (o == "--depth")
            depth = std::atoi(argv[i + 1]);
        else if (o == "--seconds")
            seconds = std::atof(argv[i + 1]);
        else if (o == "--keys")
            keys = std::atoi(argv[i + 1]);
        else if (o == "--value")
            valueLen = std::atoi(argv[i + 1]);
        else if (o == "--sets")
            setPct = std::atoi(argv[i + 1]);
    }
    const std::string value(static_cast<size_t>(valueLen), 'x');
    // Preload every key once, on one blocking connection.
    {
        int fd = connectTo(port);
        fcntl(fd, F_SETFL, 0);
        std::string batch;
        for (int k = 0; k < keys; ++k)
            batch += "set key:" + std::to_string(k) + " 0 0 " + std::to_string(valueLen) +
                     " noreply\r\n" + value + "\r\n";
        batch += "mn\r\n";
        writeAll(fd, batch);
        std::string got;
        char buf[4096];
        while (got.find("MN\r\n") == std::string::npos) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0)
                break;
            got.append(buf, static_cast<size_t>(n));
        }
        close(fd);
    }
    int ep = epoll_create1(0);
    std::vector<Conn> cs(static_cast<size_t>(conns));
    std::mt19937_64 rng(42);
    auto request = [&](Conn &c) {
        int k = static_cast<int>(rng() % static_cast<uint64_t>(keys));
        if (static_cast<int>(rng() % 100) < setPct) {
            c.out += "set key:" + std::to_string(k) + " 0 0 " + std::to_string(valueLen) + "\r\n" +
                     value + "\r\n";
            c.kinds.push_back('s');
        } else {
            c.out += "get key:" + std::to_string(k) + "\r\n";
            c.kinds.push_back('g');
        }
        ++c.inflight;
    };
    for (size_t i = 0; i < cs.size(); ++i) {
        cs[i].fd = connectTo(port);
        for (int d = 0; d < depth; ++d)
            request(cs[i]);
        writeAll(cs[i].fd, cs[i].out);
        cs[i].out.clear();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    uint64_t done = 0;
    auto start = std::chrono::steady_clock::now();
    auto end = start + std::chrono::duration<double>(seconds);
    epoll_event evs[256];
    char buf[65536];
    while (std::chrono::steady_clock::now() < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < n; ++e) {
            Conn &c = cs[evs[e].data.u64];
            ssize_t r = read(c.fd, buf, sizeof buf);
            if (r <= 0)
                continue;
            c.in.append(buf, static_cast<size_t>(r));
            // Count complete answers in order: a get ends with END\r\n, a set with STORED\r\n.
            size_t pos = 0;
            while (c.head < c.kinds.size()) {
                const char *term = c.kinds[c.head] == 'g' ? "END\r\n" : "STORED\r\n";
                size_t at = c.in.find(term, pos);
                if (at == std::string::npos)
                    break;
                pos = at + std::strlen(term);
                ++c.head;
                --c.inflight;
                ++done;
                request(c);
            }
            c.in.erase(0, pos);
            if (c.head > 4096) {
                c.kinds.erase(c.kinds.begin(), c.kinds.begin() + static_cast<long>(c.head));
                c.head = 0;
            }
            if (!c.out.empty()) {
                writeAll(c.fd, c.out);
                c.out.clear();
            }
        }
    }
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("ops_per_sec %.0f\n", static_cast<double>(done) / el);
    for (auto &c : cs)
        close(c.fd);
    return 0;
}
