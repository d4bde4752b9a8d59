#include "proxy/cache_counters.h"

#include "cache/groups.h"
#include "cache/policy/request.h"
namespace fc::proxy {

std::string_view bypassLabel(int cell) {
    return cache::bypassName(static_cast<cache::Bypass>(cell));
}

std::string_view notStoredLabel(int cell) {
    return cache::notStoredName(static_cast<cache::NotStored>(cell));
}

std::string_view codingLabel(int cell) {
    return http::codingName(static_cast<http::Coding>(cell));
}

std::string_view statusLabel(int cell) {
    static constexpr std::string_view kStatus[] = {"502", "503", "504"};
    return kStatus[cell];
}

std::string_view groupIgnoredLabel(int cell) {
    return cache::groupIgnoredName(cell);
}

namespace {

std::uint64_t load(const CacheCounters::C &c) {
    return c.load(std::memory_order_relaxed);
}

std::uint64_t load(const CacheCounters::C *cells, int first, int last) {
    std::uint64_t t = 0;
    for (int i = first; i <= last; ++i)
        t += load(cells[i]);
    return t;
}

using Kind = CounterRow::Kind;

#define FC_ROW_ONE(field, family_, labels_, type_, stat_, help_)                                   \
    CounterRow{.kind = Kind::One,                                                                  \
               .family = family_,                                                                  \
               .labels = labels_,                                                                  \
               .type = type_,                                                                      \
               .help = help_,                                                                      \
               .stat = stat_,                                                                      \
               .read = [](const CacheCounters &c, int) { return load(c.field); }},
#define FC_ROW_MANY(field, cells, family_, label_, first_, last_, name, type_, stat_, help_)       \
    CounterRow{.kind = Kind::Many,                                                                 \
               .family = family_,                                                                  \
               .labels = label_,                                                                   \
               .type = type_,                                                                      \
               .help = help_,                                                                      \
               .stat = stat_,                                                                      \
               .first = first_,                                                                    \
               .last = last_,                                                                      \
               .label = name,                                                                      \
               .read = [](const CacheCounters &c, int cell) { return load(c.field[cell]); }},
#define FC_ROW_HISTOGRAM(field, bounds, family_, help_)                                            \
    CounterRow{.kind = Kind::Histogram,                                                            \
               .family = family_,                                                                  \
               .type = "histogram",                                                                \
               .help = help_,                                                                      \
               .histogram = [](const CacheCounters &c) -> const CacheCounters::Histogram & {       \
                   return c.field;                                                                 \
               }},
#define FC_ROW_SUM(family_, labels_, type_, help_, value)                                          \
    CounterRow{.kind = Kind::Sum,                                                                  \
               .family = family_,                                                                  \
               .labels = labels_,                                                                  \
               .type = type_,                                                                      \
               .help = help_,                                                                      \
               .read = [](const CacheCounters &c, int) -> std::uint64_t { return value; }},
#define FC_ROW_OUTSIDE(family_, type_, help_)                                                      \
    CounterRow{.kind = Kind::Outside, .family = family_, .type = type_, .help = help_},

const CounterRow kRows[] = {
    FC_CACHE_COUNTERS(FC_ROW_ONE, FC_ROW_MANY, FC_ROW_HISTOGRAM, FC_ROW_SUM, FC_ROW_OUTSIDE)};

// An array row's exported cells lie inside the array.
#define FC_CHECK_MANY(field, cells, family, label, first, last, ...)                               \
    static_assert((last) < (cells) &&                                                              \
                      sizeof(CacheCounters::field) == (cells) * sizeof(CacheCounters::C),          \
                  #field ": the exported cells lie inside the array");
#define FC_CHECK_NONE(...)
FC_CACHE_COUNTERS(FC_CHECK_NONE, FC_CHECK_MANY, FC_CHECK_NONE, FC_CHECK_NONE, FC_CHECK_NONE)

} // namespace

std::span<const CounterRow> counterRows() {
    return kRows;
}

void appendCacheStats(const std::vector<const CacheCounters *> &all, std::string &out) {
    auto stat = [&](const CounterRow &r, std::string_view name, int cell) {
        std::uint64_t t = 0;
        for (const CacheCounters *c : all)
            t += r.read(*c, cell);
        out += "STAT http_";
        out += name;
        out += " " + std::to_string(t) + "\r\n";
    };
    for (const CounterRow &r : kRows)
        if (r.kind == Kind::One && !r.stat.empty())
            stat(r, r.stat, 0);
    for (const CounterRow &r : kRows) {
        if (r.kind != Kind::Many || r.stat.empty())
            continue;
        for (int cell = r.first; cell <= r.last; ++cell) {
            std::string name(r.stat);
            for (char ch : r.label(cell))
                name.push_back(ch == '-' ? '_' : ch);
            stat(r, name, cell);
        }
    }
}

} // namespace fc::proxy
