// memcached's ASCII authentication (memcached 1.6 with -Y, doc/protocol.txt "Authentication";
// proto_text.c try_read_command_asciiauth): until a connection has authenticated, every command
// line is taken as a login attempt, and the only one accepted is a storage-shaped line
//
//     set <key> <flags> <exptime> <bytes>\r\n
//     <username> <password>\r\n
//
// whose data block is a user of memcached.auth_file (key, flags and exptime are ignored; the
// name ends at the first space, the password is the rest). Answers, worded as memcached's:
//
//     STORED                                         logged in: commands work from here on
//     CLIENT_ERROR authentication failure            no such user and password
//     CLIENT_ERROR unauthenticated                   any other command (get, flush_all, mg...)
//     CLIENT_ERROR auth token too long               <bytes> over 16384; the block is not read
//     CLIENT_ERROR bad command line termination      the block does not end with "\r\n"
//     CLIENT_ERROR bad authentication token format   the block has no space
//
// As in memcached the connection stays open after each of these (the client may try again);
// it is closed without an answer when 2048 bytes arrive without a newline. Nothing is stored by
// a login and nothing is read from the store before one succeeds.
//
// Where this differs from memcached (1.6.4x) on purpose: the command must be the token "set"
// (memcached compares the line's first three bytes, so "setx" passes); a line ended by a bare
// "\n" is read as the rest of the text protocol reads it (memcached's tokenizer drops its last
// byte); a line shorter than 6 bytes is answered "unauthenticated" (memcached closes: a guard
// against a crash of its tokenizer). Debian's 1.6.18 agrees with the first two.
//
// Pure: bytes in, bytes out. Threading: one per connection, one thread; the AuthUsers it holds
// is immutable and shared.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/auth_users.h"

namespace fc::cache {

struct ProtocolStats;

class AsciiAuth {
public:
    enum class Status {
        NeedMore,      // consumed what it could; call again with more bytes
        Authenticated, // "STORED" was answered: what follows `consumed` is ordinary commands
        Close,         // junk (no newline in 2048 bytes): close the connection
    };

    // memcached's limits (proto_text.c): the login's data block, a line without a newline.
    static constexpr std::size_t kMaxLogin = AuthUsers::kMaxLogin;
    static constexpr std::size_t kMaxJunk = 2048;

    // `users` must not be null.
    explicit AsciiAuth(std::shared_ptr<const AuthUsers> users) : users_(std::move(users)) {}

    // Reads login attempts from `data`, appending the answers to `out` and counting attempts in
    // `stats` (auth_cmds, auth_errors). Stops right after a successful login. Sets `consumed`;
    // the caller keeps the rest and passes it again with the next bytes. Never throws.
    Status feed(const char *data, std::size_t len, std::size_t &consumed, std::string &out,
                ProtocolStats &stats);

private:
    std::shared_ptr<const AuthUsers> users_;
    std::size_t block_ = 0; // > 0: the login's data block, "\r\n" included, is awaited
};

} // namespace fc::cache
