#include "http/headers.h"

#include <cassert>

namespace fc::http {

namespace {
inline char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
} // namespace

bool equalsIgnoreCaseBytes(std::string_view a, std::string_view b) {
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

std::string_view trimOws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool listContains(std::string_view value, std::string_view token) {
    return !forEachListMember(value,
                              [&](std::string_view m) { return !equalsIgnoreCase(m, token); });
}

void HeaderList::clear() {
    buf_.clear();
    fields_.clear();
    inValue_ = false;
}

HeaderList::Field HeaderList::operator[](size_t i) const {
    const Slot &s = fields_[i];
    return {std::string_view(buf_).substr(s.nameOff, s.nameLen),
            std::string_view(buf_).substr(s.valueOff, s.valueLen)};
}

void HeaderList::add(std::string_view name, std::string_view value) {
    Slot s{};
    s.nameOff = static_cast<std::uint32_t>(buf_.size());
    s.nameLen = static_cast<std::uint32_t>(name.size());
    buf_.append(name);
    s.valueOff = static_cast<std::uint32_t>(buf_.size());
    s.valueLen = static_cast<std::uint32_t>(value.size());
    buf_.append(value);
    fields_.push_back(s);
    inValue_ = false;
}

void HeaderList::appendName(std::string_view piece) {
    if (fields_.empty() || inValue_) {
        Slot s{};
        s.nameOff = static_cast<std::uint32_t>(buf_.size());
        fields_.push_back(s);
        inValue_ = false;
    }
    Slot &s = fields_.back();
    buf_.append(piece);
    s.nameLen += static_cast<std::uint32_t>(piece.size());
    s.valueOff = static_cast<std::uint32_t>(buf_.size());
}

void HeaderList::appendValue(std::string_view piece) {
    assert(!fields_.empty());
    Slot &s = fields_.back();
    if (!inValue_) {
        s.valueOff = static_cast<std::uint32_t>(buf_.size());
        inValue_ = true;
    }
    buf_.append(piece);
    s.valueLen += static_cast<std::uint32_t>(piece.size());
}

void HeaderList::finishValue() {
    if (fields_.empty())
        return;
    Slot &s = fields_.back();
    while (s.valueLen > 0 &&
           (buf_[s.valueOff + s.valueLen - 1] == ' ' || buf_[s.valueOff + s.valueLen - 1] == '\t'))
        --s.valueLen;
    inValue_ = true; // a following name starts a new field, even for an empty value
}

void HeaderList::joinFields(std::string_view name, std::string_view last) {
    size_t need = name.size() + last.size();
    for (const Slot &s : fields_)
        need += s.valueLen + 2;
    buf_.reserve(buf_.size() + need); // every append below copies from buf_ itself: no moves
    Slot joined{};
    joined.nameOff = static_cast<std::uint32_t>(buf_.size());
    joined.nameLen = static_cast<std::uint32_t>(name.size());
    buf_.append(name);
    joined.valueOff = static_cast<std::uint32_t>(buf_.size());
    auto piece = [&](const char *p, size_t n) {
        if (n == 0)
            return;
        if (buf_.size() > joined.valueOff)
            buf_.append(", ");
        buf_.append(p, n);
    };
    std::erase_if(fields_, [&](const Slot &s) {
        if (!equalsIgnoreCase(std::string_view(buf_).substr(s.nameOff, s.nameLen), name))
            return false;
        piece(buf_.data() + s.valueOff, s.valueLen);
        return true;
    });
    piece(last.data(), last.size());
    joined.valueLen = static_cast<std::uint32_t>(buf_.size() - joined.valueOff);
    fields_.push_back(joined);
    inValue_ = true;
}

std::optional<std::string_view> HeaderList::get(std::string_view name) const {
    for (size_t i = 0; i < fields_.size(); ++i) {
        Field f = (*this)[i];
        if (equalsIgnoreCase(f.name, name))
            return f.value;
    }
    return std::nullopt;
}

size_t HeaderList::count(std::string_view name) const {
    size_t n = 0;
    for (size_t i = 0; i < fields_.size(); ++i)
        if (equalsIgnoreCase((*this)[i].name, name))
            ++n;
    return n;
}

size_t HeaderList::remove(std::string_view name) {
    size_t before = fields_.size();
    std::erase_if(fields_, [&](const Slot &s) {
        return equalsIgnoreCase(std::string_view(buf_).substr(s.nameOff, s.nameLen), name);
    });
    return before - fields_.size();
}

void RequestHead::clear() {
    method.clear();
    target.clear();
    versionMajor = versionMinor = 1;
    headers.clear();
    keepAlive = true;
    chunked = false;
    contentLength = -1;
    upgradeAsked = false;
}

void ResponseHead::clear() {
    status = 0;
    reason.clear();
    versionMajor = versionMinor = 1;
    headers.clear();
    keepAlive = true;
    chunked = false;
    contentLength = -1;
}

} // namespace fc::http
