// The users of the memcached port (memcached.auth_file): the text of a file of
// "username:password" lines, the format memcached's own -Y option reads (memcached authfile.c),
// and the check of one login against them. config/ parses and validates the file; the protocol
// (cache/memcache/auth.h) checks the "username password" a client sends.
//
// Pure: no I/O. An AuthUsers is immutable once parsed and safe to read from any thread; the
// config shares one as shared_ptr<const AuthUsers> between the workers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fc {

class AuthUsers {
public:
    // memcached reads at most this many bytes of "username password" (MAX_AUTH_REQ_LEN in
    // proto_text.c); a longer line in the file could never be sent.
    static constexpr std::size_t kMaxLogin = 16384;

    // Parses the text of an auth file. One user per line: the name up to the first ':', the
    // password the rest of the line (spaces and ':' allowed); "\r\n" line ends are accepted and
    // empty lines skipped. Refused, with "NAME:LINE: what" (`name` is the file's name, for the
    // message): a line without ':', an empty name or password, a name with a space or a control
    // character (clients send "username password", split at the first space), a control
    // character in a password, a line longer than kMaxLogin, a name given twice, no user at
    // all. memcached is laxer (it keeps 8 users and drops the rest silently); the files it reads
    // correctly read the same here.
    static Result<AuthUsers> parse(std::string_view text, std::string_view name);

    // Is this a user's name and password? The time taken depends on the stored names and
    // passwords only, never on how much of `name` or `password` matches: every user is compared,
    // every byte of each (memcached's safe_memcmp, without its early length check).
    bool check(std::string_view name, std::string_view password) const;

    std::size_t size() const { return users_.size(); }

private:
    struct User {
        std::string name, password;
    };
    std::vector<User> users_;
};

// `given` equals `secret`, compared in time that depends on secret.size() only.
bool constantTimeEquals(std::string_view given, std::string_view secret);

} // namespace fc
