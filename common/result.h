// Result<T>: a value or an error message, for code paths that must not throw
// (the data path). Exceptions are used only at start-up (config loading).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace fc {

struct Error {
    std::string message;
};

template <typename T> class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error err) : v_(std::move(err)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T &value() { return std::get<0>(v_); }
    const T &value() const { return std::get<0>(v_); }
    T &operator*() { return value(); }
    const T &operator*() const { return value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    const std::string &error() const { return std::get<1>(v_).message; }

private:
    std::variant<T, Error> v_;
};

} // namespace fc
