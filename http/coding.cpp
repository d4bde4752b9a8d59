#include "http/coding.h"

#include "http/headers.h"

namespace fc::http {

std::string_view codingName(Coding c) {
    switch (c) {
    case Coding::Identity:
        return "identity";
    case Coding::Gzip:
        return "gzip";
    case Coding::Br:
        return "br";
    case Coding::Zstd:
        return "zstd";
    case Coding::Deflate:
        return "deflate";
    case Coding::AsStored:
        break;
    }
    return "";
}

namespace {

std::optional<Coding> codingOfToken(std::string_view t) {
    if (equalsIgnoreCase(t, "identity"))
        return Coding::Identity;
    if (equalsIgnoreCase(t, "gzip") || equalsIgnoreCase(t, "x-gzip"))
        return Coding::Gzip;
    if (equalsIgnoreCase(t, "br"))
        return Coding::Br;
    if (equalsIgnoreCase(t, "zstd"))
        return Coding::Zstd;
    if (equalsIgnoreCase(t, "deflate"))
        return Coding::Deflate;
    return std::nullopt;
}

// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). -1 if invalid.
int parseQvalue(std::string_view s) {
    if (s.empty() || (s[0] != '0' && s[0] != '1'))
        return -1;
    int whole = s[0] - '0';
    int frac = 0;
    if (s.size() > 1) {
        if (s[1] != '.' || s.size() > 5)
            return -1;
        int scale = 100;
        for (std::size_t i = 2; i < s.size(); ++i, scale /= 10) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            frac += (s[i] - '0') * scale;
        }
    }
    int q = whole * 1000 + frac;
    return q > 1000 ? -1 : q;
}

// The q of one member's parameters ("gzip;q=0.5" → ";q=0.5"); 1000 when there is none.
int memberQuality(std::string_view params) {
    int q = 1000;
    while (!params.empty()) {
        std::size_t semi = params.find(';', 1);
        std::string_view p = trimOws(
            params.substr(1, semi == std::string_view::npos ? std::string_view::npos : semi - 1));
        std::size_t eq = p.find('=');
        if (eq != std::string_view::npos && equalsIgnoreCase(trimOws(p.substr(0, eq)), "q")) {
            int v = parseQvalue(trimOws(p.substr(eq + 1)));
            q = v < 0 ? 0 : v;
        }
        if (semi == std::string_view::npos)
            break;
        params.remove_prefix(semi);
    }
    return q;
}

} // namespace

std::optional<Coding> parseContentCoding(std::optional<std::string_view> contentEncoding) {
    if (!contentEncoding)
        return Coding::Identity;
    std::string_view v = trimOws(*contentEncoding);
    if (v.empty())
        return Coding::Identity;
    if (v.find(',') != std::string_view::npos)
        return std::nullopt;
    return codingOfToken(v);
}

AcceptedCodings::AcceptedCodings(std::optional<std::string_view> acceptEncoding) {
    if (!acceptEncoding)
        return;
    present_ = true;
    forEachListMember(*acceptEncoding, [&](std::string_view member) {
        std::size_t semi = member.find(';');
        std::string_view token = trimOws(member.substr(0, semi));
        std::string_view params =
            semi == std::string_view::npos ? std::string_view() : member.substr(semi);
        short *slot = nullptr;
        if (token == "*") {
            slot = &star_;
        } else if (auto named = codingOfToken(token)) {
            slot = &listed_[static_cast<int>(*named)];
        }
        if (slot && *slot < 0) // the first listing counts
            *slot = static_cast<short>(memberQuality(params));
    });
}

int AcceptedCodings::quality(Coding c) const {
    if (!present_)
        return c == Coding::Identity ? 1000 : 0;
    const int i = static_cast<int>(c);
    if (i < 5 && listed_[i] >= 0)
        return listed_[i];
    if (star_ >= 0)
        return star_;
    return c == Coding::Identity ? 1000 : 0;
}

} // namespace fc::http
