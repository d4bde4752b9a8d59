#include "proxy/cache_status.h"

namespace fc::proxy {

namespace {

// One bare item of RFC 8941 §3.3, as far as Cache-Status needs to tell them apart.
struct BareItem {
    enum class Type { Integer, Decimal, String, Token, ByteSequence, Boolean } type{};
    std::int64_t integer = 0;
    bool boolean = false;
    std::string text; // a string (unescaped) or a token
};

bool isLcAlpha(char c) {
    return c >= 'a' && c <= 'z';
}
bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
    return isLcAlpha(c) || (c >= 'A' && c <= 'Z');
}
// RFC 9110 §5.6.2 tchar, plus ':' and '/' which sf-token allows (RFC 8941 §3.3.4).
bool isTokenChar(char c) {
    return isAlpha(c) || isDigit(c) ||
           std::string_view("!#$%&'*+-.^_`|~:/").find(c) != std::string_view::npos;
}

// The parsing algorithms of RFC 8941 §4.2 over one field value; each returns false where the
// RFC says "fail parsing".
class SfReader {
public:
    explicit SfReader(std::string_view s) : s_(s) {}

    bool done() const { return pos_ >= s_.size(); }
    char peek() const { return done() ? '\0' : s_[pos_]; }
    bool take(char c) {
        if (peek() != c)
            return false;
        ++pos_;
        return true;
    }
    void skipSp() {
        while (peek() == ' ')
            ++pos_;
    }
    void skipOws() {
        while (peek() == ' ' || peek() == '\t')
            ++pos_;
    }

    // §4.2.3.3: lcalpha or "*", then lcalpha, digits, "_", "-", ".", "*".
    bool key(std::string_view &out) {
        std::size_t from = pos_;
        if (!isLcAlpha(peek()) && peek() != '*')
            return false;
        while (isLcAlpha(peek()) || isDigit(peek()) ||
               std::string_view("_-.*").find(peek()) != std::string_view::npos)
            ++pos_;
        out = s_.substr(from, pos_ - from);
        return true;
    }

    // §4.2.3.1
    bool bareItem(BareItem &out) {
        char c = peek();
        if (c == '-' || isDigit(c))
            return number(out);
        if (c == '"')
            return string(out);
        if (isAlpha(c) || c == '*')
            return token(out);
        if (c == ':')
            return bytes(out);
        if (c == '?')
            return boolean(out);
        return false;
    }

private:
    // §4.2.4: at most 15 digits for an integer; a decimal's fraction 1 to 3 digits.
    bool number(BareItem &out) {
        bool negative = take('-');
        std::size_t from = pos_;
        while (isDigit(peek()))
            ++pos_;
        std::size_t intDigits = pos_ - from;
        if (intDigits == 0 || intDigits > 15)
            return false;
        std::from_chars(s_.data() + from, s_.data() + pos_, out.integer);
        if (negative)
            out.integer = -out.integer;
        out.type = BareItem::Type::Integer;
        if (!take('.'))
            return true;
        std::size_t fracFrom = pos_;
        while (isDigit(peek()))
            ++pos_;
        std::size_t fracDigits = pos_ - fracFrom;
        out.type = BareItem::Type::Decimal;
        return intDigits <= 12 && fracDigits >= 1 && fracDigits <= 3;
    }
    // §4.2.5: printable ASCII; only \" and \\ are escapes.
    bool string(BareItem &out) {
        ++pos_;
        out.type = BareItem::Type::String;
        for (;;) {
            if (done())
                return false;
            char c = s_[pos_++];
            if (c == '"')
                return true;
            if (c == '\\') {
                if (peek() != '"' && peek() != '\\')
                    return false;
                c = s_[pos_++];
            } else if (c < 0x20 || c > 0x7e) {
                return false;
            }
            out.text.push_back(c);
        }
    }
    // §4.2.6
    bool token(BareItem &out) {
        std::size_t from = pos_;
        while (isTokenChar(peek()))
            ++pos_;
        out.type = BareItem::Type::Token;
        out.text = s_.substr(from, pos_ - from);
        return true;
    }
    // §4.2.7: base64 between colons; the bytes are of no use here.
    bool bytes(BareItem &out) {
        ++pos_;
        while (isAlpha(peek()) || isDigit(peek()) || peek() == '+' || peek() == '/' ||
               peek() == '=')
            ++pos_;
        out.type = BareItem::Type::ByteSequence;
        return take(':');
    }
    // §4.2.8
    bool boolean(BareItem &out) {
        ++pos_;
        out.type = BareItem::Type::Boolean;
        out.boolean = peek() == '1';
        return take('0') || take('1');
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

// One parameter of a Cache-Status member into `r`, by the names the writer uses; a value of
// another type than RFC 9211 gives the parameter is skipped.
void applyParam(std::string_view name, BareItem &v, CacheStatusReading &r) {
    namespace n = cache_status_param;
    using T = BareItem::Type;
    if (name == n::kHit && v.type == T::Boolean)
        r.hit = v.boolean;
    else if (name == n::kFwd && v.type == T::Token)
        r.fwd = std::move(v.text);
    else if (name == n::kFwdStatus && v.type == T::Integer)
        r.fwdStatus = static_cast<int>(v.integer);
    else if (name == n::kTtl && v.type == T::Integer) {
        r.hasTtl = true;
        r.ttl = v.integer;
    } else if (name == n::kStored && v.type == T::Boolean)
        r.stored = v.boolean;
    else if (name == n::kCollapsed && v.type == T::Boolean)
        r.collapsed = v.boolean;
    else if (name == n::kKey && v.type == T::String)
        r.key = std::move(v.text);
    else if (name == n::kDetail && (v.type == T::String || v.type == T::Token))
        r.detail = std::move(v.text);
}

// §4.2.3.2: *( ";" *SP key [ "=" bare-item ] ); a key alone is the boolean true.
bool readParams(SfReader &in, CacheStatusReading &r) {
    while (in.take(';')) {
        in.skipSp();
        std::string_view name;
        if (!in.key(name))
            return false;
        BareItem v;
        v.type = BareItem::Type::Boolean;
        v.boolean = true;
        if (in.take('=') && !in.bareItem(v))
            return false;
        applyParam(name, v, r);
    }
    return true;
}

// §4.2.1.2: "(" items ")" then parameters; no cache names itself this way, so it is read past.
bool skipInnerList(SfReader &in) {
    CacheStatusReading ignored;
    in.take('(');
    for (;;) {
        in.skipSp();
        if (in.take(')'))
            return readParams(in, ignored);
        BareItem item;
        if (!in.bareItem(item) || !readParams(in, ignored))
            return false;
        if (in.peek() != ' ' && in.peek() != ')')
            return false;
    }
}

} // namespace

std::optional<CacheStatusReading> readCacheStatus(std::string_view field, std::string_view cache) {
    SfReader in(field);
    in.skipSp();
    std::optional<CacheStatusReading> ours;
    while (!in.done()) { // §4.2.1
        if (in.peek() == '(') {
            if (!skipInnerList(in))
                return std::nullopt;
        } else {
            BareItem name;
            CacheStatusReading r;
            if (!in.bareItem(name) || !readParams(in, r))
                return std::nullopt;
            bool named = name.type == BareItem::Type::Token || name.type == BareItem::Type::String;
            if (named && name.text == cache)
                ours = std::move(r); // the last member of ours counts
        }
        in.skipOws();
        if (in.done())
            break;
        if (!in.take(','))
            return std::nullopt;
        in.skipOws();
        if (in.done()) // a trailing comma
            return std::nullopt;
    }
    return ours;
}

CacheStatus statusOf(const CacheStatusReading &r) {
    // The most specific row wins: one whose default detail matches (STALE, REVALIDATED), then one
    // whose own parameters match, then a miss whose reason the answer replaced.
    CacheStatus best = CacheStatus::None;
    int bestScore = 0;
    for (std::size_t k = 0; k < kCacheStatusCount; ++k) {
        const CacheStatusInfo &row = kCacheStatusTable[k];
        const auto s = static_cast<CacheStatus>(k);
        if (!row.writesField() || row.hit != r.hit)
            continue;
        if (row.fwdStatus != 0 && row.fwdStatus != r.fwdStatus)
            continue;
        if (!row.detail.empty() && row.detail != r.detail)
            continue;
        int score = 0;
        if (row.hit || row.fwd == r.fwd)
            score = row.detail.empty() ? 2 : 3;
        else if (s == CacheStatus::Miss && !r.fwd.empty())
            score = 1;
        if (score > bestScore) {
            best = s;
            bestScore = score;
        }
    }
    return best;
}

} // namespace fc::proxy
