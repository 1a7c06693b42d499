#pragma once
// Error types that say what went wrong and what the user can do about it.

#include <cerrno>
#include <stdexcept>
#include <string>

namespace hgw {

// A failure with a hint for the person reading it ("what to do").
class Error : public std::runtime_error {
public:
    Error(std::string what, std::string hint = {})
        : std::runtime_error(std::move(what)), hint_(std::move(hint)) {}
    [[nodiscard]] const std::string& hint() const noexcept { return hint_; }

private:
    std::string hint_;
};

// A system call failed; carries errno.
class SystemError : public Error {
public:
    SystemError(const std::string& what, int err, std::string hint = {});
    [[nodiscard]] int code() const noexcept { return code_; }

private:
    int code_;
};

// A file we were asked to trust is not safe to trust (symlink, foreign owner, ...).
class UnsafeFileError : public Error {
public:
    using Error::Error;
};

[[noreturn]] void throw_errno(const std::string& what, std::string hint = {});

// "what: hint" when there is a hint, for one-line messages.
std::string describe(const Error& e);

} // namespace hgw
