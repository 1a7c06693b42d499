#pragma once
// One hermes-gatewayd per Hermes home, whatever bus each one is on: a flock
// on <home>/gatewayd.lock, held for the daemon's whole life. The file says
// who holds it and which gateway it spawned (see manager_record.h); the lock,
// not the contents, is the proof.

#include "core/home.h"
#include "core/manager_record.h"
#include "util/unique_fd.h"

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

namespace hgw {

inline constexpr const char* kManagerLockName = "gatewayd.lock";

class ManagerLock {
public:
    struct Held {
        pid_t pid; // another daemon holds it (pid read from the file, 0 if unknown)
    };
    struct Unavailable {
        std::string reason; // home missing/read-only and no file: retry later
    };

    // flock(LOCK_EX|LOCK_NB) on <home>/gatewayd.lock (O_RDWR|O_CREAT|O_NOFOLLOW|
    // O_CLOEXEC, 0600; on EROFS/EACCES an existing file is locked through a
    // read-only fd, as flock needs no write access). On success, reads what
    // the previous holder wrote (previous()) and writes our own record, which
    // carries the previous holder's child over until record_child() or
    // clear_child(): a daemon that dies before dealing with an orphan still
    // passes it on. Throws UnsafeFileError for a symlink (a planted
    // gatewayd.lock -> gateway.lock), a non-regular or untrusted file, and
    // SystemError for other I/O failures (EMFILE...).
    static std::variant<ManagerLock, Held, Unavailable> try_acquire(const HomePaths& paths);

    ManagerLock(ManagerLock&&) noexcept = default;
    ManagerLock& operator=(ManagerLock&&) noexcept = default;

    // What the last daemon left (its child = a possible orphan); nothing when
    // the file was new, empty or not a record.
    [[nodiscard]] const std::optional<ManagerRecord>& previous() const { return previous_; }
    [[nodiscard]] const ManagerRecord& current() const { return current_; }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] bool writable() const { return writable_; }

    // Records the child we are about to exec (before it runs), and clears it
    // after it is gone. Best effort: returns false (never throws) when the
    // file cannot be written (read-only fd, ENOSPC).
    bool record_child(const ProcessIdentity& child);
    // Does the path still name the file we locked? Not after the home was
    // deleted (and perhaps made anew): the lock then guards nothing.
    [[nodiscard]] bool still_in_place() const noexcept;
    bool clear_child();

private:
    ManagerLock(std::filesystem::path path, UniqueFd fd, bool writable)
        : path_(std::move(path)), fd_(std::move(fd)), writable_(writable) {}
    bool write_current() noexcept;

    std::filesystem::path path_;
    UniqueFd fd_;
    bool writable_ = true;
    std::size_t file_size_ = 0; // bytes in the file, to overwrite them all
    std::optional<ManagerRecord> previous_;
    ManagerRecord current_;
};

} // namespace hgw
