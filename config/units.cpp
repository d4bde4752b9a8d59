#include "config/units.h"

#include <cctype>
#include <limits>
#include <string>

namespace fc::config {
namespace {

struct Number {
    std::uint64_t whole = 0;
    std::uint64_t fracNum = 0; // fractional digits as an integer
    std::uint64_t fracDen = 1; // 10^(number of fractional digits)
    std::string_view unit;
};

Result<Number> splitNumber(std::string_view text) {
    Number n;
    size_t i = 0;
    while (i < text.size() && text[i] == ' ')
        ++i;
    if (i < text.size() && text[i] == '-')
        return Error{"must not be negative"};
    size_t digits = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
        if (n.whole > (std::numeric_limits<std::uint64_t>::max() - 9) / 10)
            return Error{"number too large"};
        n.whole = n.whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
            if (n.fracDen < 1'000'000'000) {
                n.fracNum = n.fracNum * 10 + static_cast<std::uint64_t>(text[i] - '0');
                n.fracDen *= 10;
            }
            ++digits;
        }
    }
    if (digits == 0)
        return Error{"expected a number"};
    while (i < text.size() && text[i] == ' ')
        ++i;
    n.unit = text.substr(i);
    while (!n.unit.empty() && n.unit.back() == ' ')
        n.unit.remove_suffix(1);
    return n;
}

Result<std::uint64_t> scale(const Number &n, std::uint64_t mult) {
    if (mult != 0 && n.whole > std::numeric_limits<std::uint64_t>::max() / mult)
        return Error{"value too large"};
    std::uint64_t v = n.whole * mult;
    std::uint64_t frac = n.fracNum * mult / n.fracDen;
    if (v > std::numeric_limits<std::uint64_t>::max() - frac)
        return Error{"value too large"};
    return v + frac;
}

} // namespace

Result<Millis> parseDuration(std::string_view text) {
    auto n = splitNumber(text);
    if (!n)
        return Error{n.error() + " (a duration such as \"250ms\", \"30s\", \"5m\", \"1h\")"};
    std::uint64_t mult;
    const auto u = n->unit;
    if (u == "ms")
        mult = 1;
    else if (u.empty() || u == "s")
        mult = 1000;
    else if (u == "m" || u == "min")
        mult = 60'000;
    else if (u == "h")
        mult = 3'600'000;
    else if (u == "d")
        mult = 86'400'000;
    else
        return Error{"unknown duration unit \"" + std::string(u) + "\" (use ms, s, m, h or d)"};
    auto v = scale(*n, mult);
    if (!v || *v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2))
        return Error{"duration too large"};
    return Millis(static_cast<std::int64_t>(*v));
}

Result<std::uint64_t> parseSize(std::string_view text) {
    auto n = splitNumber(text);
    if (!n)
        return Error{n.error() + " (a size such as \"512\", \"16KiB\", \"64MiB\")"};
    std::uint64_t mult;
    const auto u = n->unit;
    if (u.empty() || u == "B")
        mult = 1;
    else if (u == "KiB" || u == "K" || u == "k")
        mult = 1ull << 10;
    else if (u == "MiB" || u == "M")
        mult = 1ull << 20;
    else if (u == "GiB" || u == "G")
        mult = 1ull << 30;
    else if (u == "KB" || u == "kB")
        mult = 1000;
    else if (u == "MB")
        mult = 1000 * 1000;
    else if (u == "GB")
        mult = 1000 * 1000 * 1000;
    else
        return Error{"unknown size unit \"" + std::string(u) +
                     "\" (use B, KiB, MiB, GiB, KB, MB, GB)"};
    if (n->fracNum != 0 && mult == 1)
        return Error{"a byte count must be whole"};
    auto v = scale(*n, mult);
    if (!v)
        return Error{"size too large"};
    return *v;
}

} // namespace fc::config
