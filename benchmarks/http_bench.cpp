// Micro-benchmarks for the HTTP layer: request parsing (with the hardening scan) and header
// rewriting. No I/O. Reports bytes/s.
#include <benchmark/benchmark.h>

#include <string>

#include "http/parser.h"
#include "http/rewrite.h"

using namespace fc::http;

namespace {
struct NullSink : RequestParser::Sink {
    bool onRequestHead(RequestHead &) override { return true; }
    void onRequestBody(std::string_view) override {}
    void onRequestComplete() override {}
};

std::string browserRequest(int extraHeaders) {
    std::string r = "GET /articles/2024/caching-in-front-of-django?utm=x HTTP/1.1\r\n"
                    "Host: www.example.com\r\n"
                    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                    "Gecko) Chrome/120.0 Safari/537.36\r\n"
                    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
                    "Accept-Language: en-US,en;q=0.9\r\n"
                    "Accept-Encoding: gzip, deflate, br\r\n"
                    "Connection: keep-alive\r\n";
    for (int i = 0; i < extraHeaders; ++i)
        r += "X-Extra-" + std::to_string(i) + ": some-value-" + std::to_string(i) + "\r\n";
    r += "\r\n";
    return r;
}

// The head the parser makes of `req`.
RequestHead parseHead(const std::string &req) {
    struct Keep : RequestParser::Sink {
        RequestHead head;
        bool onRequestHead(RequestHead &h) override {
            head = h;
            return true;
        }
        void onRequestBody(std::string_view) override {}
        void onRequestComplete() override {}
    } sink;
    RequestParser p(sink, {});
    p.feed(req.data(), req.size());
    return sink.head;
}
} // namespace

static void BM_ParseRequest(benchmark::State &state) {
    std::string req = browserRequest(static_cast<int>(state.range(0)));
    NullSink sink;
    RequestParser p(sink, {});
    for (auto _ : state) {
        auto r = p.feed(req.data(), req.size());
        benchmark::DoNotOptimize(r);
        p.resume();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * req.size()));
}
BENCHMARK(BM_ParseRequest)->Arg(0)->Arg(8)->Arg(32);

static void BM_RewriteUpstreamRequest(benchmark::State &state) {
    std::string req = browserRequest(static_cast<int>(state.range(0)));
    const RequestHead parsed = parseHead(req);
    std::string out;
    for (auto _ : state) {
        out.clear();
        writeUpstreamRequest(parsed, ForwardInfo{}, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * req.size()));
}
BENCHMARK(BM_RewriteUpstreamRequest)->Arg(0)->Arg(8)->Arg(32);

// The head made into the forwarded request, once per request (hits included): Connection's
// options, hop-by-hop and underscore names, Host, X-Forwarded-For as one list. The copy of the
// parsed head is part of each iteration (it reuses its capacity, as a connection's head does).
static void BM_PrepareForwarding(benchmark::State &state) {
    std::string req = browserRequest(static_cast<int>(state.range(0)));
    const RequestHead parsed = parseHead(req);
    RequestHead h;
    for (auto _ : state) {
        h = parsed;
        auto refused = prepareForwarding(h, ForwardRules{"203.0.113.7"});
        benchmark::DoNotOptimize(refused);
    }
}
BENCHMARK(BM_PrepareForwarding)->Arg(0)->Arg(8)->Arg(32);

BENCHMARK_MAIN();
