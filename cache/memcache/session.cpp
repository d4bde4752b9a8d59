#include "cache/memcache/session.h"

#include <algorithm>
#include <cstring>

#include "cache/memcache/command.h"
#include "cache/memcache/execute.h"
#include "cache/memcache/line.h"

namespace fc::cache {

using namespace memcache;

MemcacheSession::MemcacheSession(ProtocolContext &ctx, std::shared_ptr<const AuthUsers> users)
    : ctx_(ctx), auth_(users ? std::make_unique<AsciiAuth>(std::move(users)) : nullptr) {}
MemcacheSession::~MemcacheSession() = default;

MemcacheSession::Status MemcacheSession::feed(const char *data, std::size_t len,
                                              std::size_t &consumed, std::string &out) {
    std::size_t pos = 0;
    if (auth_) {
        AsciiAuth::Status a = auth_->feed(data, len, pos, out, ctx_.stats);
        if (a != AsciiAuth::Status::Authenticated) {
            consumed = pos;
            return a == AsciiAuth::Status::Close ? Status::Close : Status::NeedMore;
        }
        auth_.reset(); // logged in: the rest is ordinary commands
    }
    const std::size_t loginBytes = pos; // counted in bytes_read by the login already
    // One command at a time per thread: its views live until the next line is parsed, and its
    // token buffer keeps the capacity a long multi-get gave it.
    thread_local Command cmd;
    Status st = Status::NeedMore;
    while (pos < len) {
        if (swallow_ > 0 || pending_) {
            if (!readBlock(data, len, pos, out))
                break;
            continue;
        }
        std::string_view line;
        if (!takeLine(data, len, pos, line)) {
            if (len - pos > kMaxLine) {
                putLine(out, "CLIENT_ERROR line too long");
                pos = len;
                st = Status::Close;
            }
            break;
        }
        parseCommand(line, cmd);
        Status c = execute(cmd, out);
        if (c != Status::NeedMore) {
            st = c;
            if (c == Status::Watch) // what follows a watch is not read (memcached ignores it)
                pos = len;
            break;
        }
    }
    consumed = pos;
    ctx_.stats.bytesRead.fetch_add(pos - loginBytes, std::memory_order_relaxed);
    return st;
}

// Reads (part of) the data block being awaited from data[pos, len); false when it needs more.
bool MemcacheSession::readBlock(const char *data, std::size_t len, std::size_t &pos,
                                std::string &out) {
    if (swallow_ > 0) {
        std::size_t n = std::min(swallow_, len - pos);
        pos += n;
        swallow_ -= n;
        if (swallow_ == 0 && swallowReply_) {
            out.append(swallowReply_);
            swallowReply_ = nullptr;
        }
        return true;
    }
    Pending &p = *pending_;
    if (std::size_t need = p.item->valueLen - p.filled; need > 0) {
        std::size_t n = std::min(need, len - pos);
        std::memcpy(p.item->valueData() + p.filled, data + pos, n);
        p.filled += n;
        pos += n;
        return true;
    }
    // The data block must end with "\r\n" (memcached: "bad data chunk" otherwise).
    while (p.term < 2 && pos < len) {
        if (data[pos] != "\r\n"[p.term])
            p.termOk = false;
        ++p.term;
        ++pos;
    }
    if (p.term < 2)
        return false;
    finishStore(out);
    return true;
}

void MemcacheSession::readPast(std::size_t bytes, const char *reply) {
    swallow_ = bytes;
    swallowReply_ = reply;
}

namespace {

const char *storeAnswer(StoreStatus r) {
    switch (r) {
    case StoreStatus::Stored:
        return "STORED";
    case StoreStatus::NotStored:
        return "NOT_STORED";
    case StoreStatus::Exists:
        return "EXISTS";
    case StoreStatus::NotFound:
        return "NOT_FOUND";
    case StoreStatus::TooLarge:
        return "SERVER_ERROR object too large for cache";
    case StoreStatus::OutOfMemory:
        return "SERVER_ERROR out of memory storing object";
    }
    return "SERVER_ERROR";
}

// ms's answer: a code, then c (the new CAS), O and k where the request had them.
void putMetaSetAnswer(std::string &out, StoreStatus r, std::uint64_t cas, const std::string &echo,
                      const std::string &keyToken, bool keyBinary) {
    const char *code = r == StoreStatus::Stored      ? "HD"
                       : r == StoreStatus::NotStored ? "NS"
                       : r == StoreStatus::Exists    ? "EX"
                                                     : "NF";
    out.append(code);
    std::size_t i = 0;
    for (std::string_view t = nextToken(echo, i); !t.empty(); t = nextToken(echo, i)) {
        if (t[0] == 'c') {
            out.append(" c");
            putNum(out, r == StoreStatus::Stored ? cas : 0);
        } else if (t[0] == 'O') {
            out.push_back(' ');
            out.append(t);
        } else {
            putMetaKey(out, keyToken, keyBinary);
        }
    }
    out.append("\r\n");
}

} // namespace

void MemcacheSession::finishStore(std::string &out) {
    std::unique_ptr<Pending> p = std::move(pending_);
    if (!p->termOk) {
        // memcached: hidden by a text command's noreply, always shown to ms.
        if (p->meta || !p->noreply)
            putLine(out, "CLIENT_ERROR bad data chunk");
        return;
    }
    std::uint64_t casOut = 0;
    StoreStatus r = ctx_.store.store(p->mode, p->item, p->cas, &casOut, p->invalidate);
    if (!p->meta) {
        if (!p->noreply)
            putLine(out, storeAnswer(r));
    } else if (r == StoreStatus::TooLarge || r == StoreStatus::OutOfMemory) {
        putLine(out, storeAnswer(r)); // q does not hide a server error
    } else if (!(p->noreply && r == StoreStatus::Stored)) {
        putMetaSetAnswer(out, r, casOut, p->echo, p->keyToken, p->keyBinary);
    }
}

} // namespace fc::cache
