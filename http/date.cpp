#include "http/date.h"

#include <cstring>

namespace fc::http {

namespace {
constexpr const char *kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char *kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm), so no timegm/locale.
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void put2(char *p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}

int month(std::string_view s) {
    for (int i = 0; i < 12; ++i)
        if (s == kMonths[i])
            return i + 1;
    return 0;
}

bool num(std::string_view s, unsigned &v) {
    if (s.empty() || s.size() > 4)
        return false;
    v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return true;
}

// "HH:MM:SS"
bool clock(std::string_view s, unsigned &h, unsigned &mi, unsigned &se) {
    return s.size() == 8 && s[2] == ':' && s[5] == ':' && num(s.substr(0, 2), h) &&
           num(s.substr(3, 2), mi) && num(s.substr(6, 2), se) && h < 24 && mi < 60 && se < 61;
}

std::optional<std::int64_t> make(unsigned y, int mo, unsigned d, unsigned h, unsigned mi,
                                 unsigned se) {
    if (mo == 0 || d == 0 || d > 31 || y < 1900)
        return std::nullopt;
    return daysFromCivil(y, static_cast<unsigned>(mo), d) * 86400 + h * 3600 + mi * 60 + se;
}
} // namespace

void formatHttpDate(std::int64_t t, char *out) {
    std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    std::int64_t secs = t - days * 86400;
    // civil from days (inverse of daysFromCivil)
    std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    int wd = static_cast<int>((days % 7 + 11) % 7); // 1970-01-01 was a Thursday
    std::memcpy(out, kDays[wd], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, d);
    out[7] = ' ';
    std::memcpy(out + 8, kMonths[m - 1], 3);
    out[11] = ' ';
    unsigned yy = static_cast<unsigned>(y);
    put2(out + 12, yy / 100);
    put2(out + 14, yy % 100);
    out[16] = ' ';
    put2(out + 17, static_cast<unsigned>(secs / 3600));
    out[19] = ':';
    put2(out + 20, static_cast<unsigned>(secs / 60 % 60));
    out[22] = ':';
    put2(out + 23, static_cast<unsigned>(secs % 60));
    std::memcpy(out + 25, " GMT", 4);
}

std::optional<std::int64_t> parseHttpDate(std::string_view s) {
    unsigned d, y, h, mi, se;
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (s.size() == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' &&
        s[16] == ' ' && s.substr(25) == " GMT") {
        if (num(s.substr(5, 2), d) && num(s.substr(12, 4), y) && clock(s.substr(17, 8), h, mi, se))
            return make(y, month(s.substr(8, 3)), d, h, mi, se);
        return std::nullopt;
    }
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        std::string_view day = s.substr(8, 2);
        if (day[0] == ' ')
            day.remove_prefix(1);
        if (num(day, d) && num(s.substr(20, 4), y) && clock(s.substr(11, 8), h, mi, se))
            return make(y, month(s.substr(4, 3)), d, h, mi, se);
        return std::nullopt;
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    std::size_t comma = s.find(", ");
    if (comma != std::string_view::npos && s.size() == comma + 24 &&
        s.substr(s.size() - 4) == " GMT") {
        std::string_view r = s.substr(comma + 2);
        if (r[2] == '-' && r[6] == '-' && r[9] == ' ' && num(r.substr(0, 2), d) &&
            num(r.substr(7, 2), y) && clock(r.substr(10, 8), h, mi, se)) {
            y += y < 70 ? 2000 : 1900; // RFC 9110 §5.6.7: interpret 2-digit years sensibly
            return make(y, month(r.substr(3, 3)), d, h, mi, se);
        }
    }
    return std::nullopt;
}

} // namespace fc::http
