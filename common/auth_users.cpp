#include "common/auth_users.h"

#include <algorithm>

namespace fc {

namespace {

bool isControl(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

} // namespace

Result<AuthUsers> AuthUsers::parse(std::string_view text, std::string_view name) {
    AuthUsers out;
    std::vector<std::size_t> lineOf; // the line each user came from, for duplicates
    std::size_t lineNo = 0;
    auto fail = [&](const std::string &what) {
        return Error{std::string(name) + ":" + std::to_string(lineNo) + ": " + what};
    };
    while (!text.empty()) {
        ++lineNo;
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty())
            continue;
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            return fail("expected \"username:password\"");
        std::string_view user = line.substr(0, colon), password = line.substr(colon + 1);
        if (user.empty())
            return fail("empty username");
        if (std::any_of(user.begin(), user.end(),
                        [](unsigned char c) { return c == ' ' || isControl(c); }))
            return fail("a username cannot contain spaces or control characters (a client sends "
                        "\"username password\")");
        if (password.empty())
            return fail("empty password for \"" + std::string(user) + "\"");
        if (std::any_of(password.begin(), password.end(),
                        [](unsigned char c) { return isControl(c); }))
            return fail("the password of \"" + std::string(user) +
                        "\" contains a control character");
        if (line.size() > kMaxLogin)
            return fail("longer than " + std::to_string(kMaxLogin) +
                        " bytes: memcached clients cannot send it");
        for (std::size_t i = 0; i < out.users_.size(); ++i)
            if (out.users_[i].name == user)
                return fail("\"" + std::string(user) + "\" is already on line " +
                            std::to_string(lineOf[i]));
        out.users_.push_back({std::string(user), std::string(password)});
        lineOf.push_back(lineNo);
    }
    if (out.users_.empty())
        return Error{std::string(name) + ": no users (expected \"username:password\" lines)"};
    return out;
}

bool constantTimeEquals(std::string_view given, std::string_view secret) {
    // Every byte of the secret is read whatever `given` holds; a byte past the end of `given`
    // is compared with 0 and the length difference is folded in, so no branch depends on where
    // the first difference is.
    unsigned diff = given.size() != secret.size() ? 1u : 0u;
    for (std::size_t i = 0; i < secret.size(); ++i) {
        unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= static_cast<unsigned>(g ^ static_cast<unsigned char>(secret[i]));
    }
    return diff == 0;
}

bool AuthUsers::check(std::string_view name, std::string_view password) const {
    unsigned found = 0;
    for (const User &u : users_) {
        // Both comparisons run for every user (no && short cut, no early return).
        unsigned nameOk = constantTimeEquals(name, u.name) ? 1u : 0u;
        unsigned passwordOk = constantTimeEquals(password, u.password) ? 1u : 0u;
        found |= nameOk & passwordOk;
    }
    return found != 0;
}

} // namespace fc
