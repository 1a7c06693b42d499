#pragma once
// An acquisition in two steps, so that a supervisor can spawn its gateway in
// between: step one takes gateway.lock and cleans the home under it; step
// two publishes the record (of the spawned child, or of ourselves). acquire()
// is exactly the two steps in a row, so what the torture test proves is what
// the daemon's --write-pidfile path runs.

#include "core/home.h"
#include "core/instance_lock.h"
#include "core/pidfile.h"
#include "core/validation.h"

#include <optional>
#include <string>

namespace hgw {

// Step one of an acquisition: gateway.lock is ours and the home has been
// cleaned under it.
class HomeLock {
public:
    HomeLock(HomeLock&&) noexcept = default;
    HomeLock& operator=(HomeLock&&) noexcept = default;
    // Closes our descriptor (as hand_over): the files are left as they are.
    ~HomeLock() = default;

    // The locked gateway.lock fd (close-on-exec; clear that flag in the child
    // that is to inherit it).
    [[nodiscard]] int fd() const noexcept { return lock_ ? lock_->fd() : -1; }
    [[nodiscard]] FileId id() const noexcept { return lock_ ? lock_->id() : FileId{}; }
    [[nodiscard]] const CleanOutcome& cleaned() const noexcept { return cleaned_; }

    // Publishes `record` whole as gateway.pid (exclusive: returns false,
    // writing nothing, if a gateway.pid appeared meanwhile) and writes it
    // into gateway.lock. On an I/O error (ENOSPC, EROFS, EMFILE...) throws
    // SystemError with the errno, having removed whatever it wrote: no
    // temporary file, no gateway.pid, an empty gateway.lock.
    bool publish(const PidRecord& record);

    // Lets our descriptor go without touching the files: a child that
    // inherited the fd keeps the lock.
    void hand_over() noexcept;

    // After a successful publish: a Claim that removes the record again on
    // release (what acquire() returns to a process that is the gateway).
    Claim into_claim(PidRecord record) &&;

private:
    friend struct HomeLockAccess;
    HomeLock(HomePaths paths, InstanceLock lock, CleanOutcome cleaned)
        : paths_(std::move(paths)), lock_(std::move(lock)), cleaned_(std::move(cleaned)) {}
    HomePaths paths_;
    std::optional<InstanceLock> lock_;
    CleanOutcome cleaned_;
};

struct LockOutcome {
    std::optional<HomeLock> locked; // set when we hold the lock and the home is clean
    Verdict running;                // when not: who runs / holds it
    std::string message;            // when not: one line for people
    CleanOutcome cleaned;
};

// Takes gateway.lock without waiting and cleans the home under it. Throws
// UnsafeFileError (unsafe gateway.pid or gateway.lock), SystemError (I/O:
// ENOENT home, EROFS, EMFILE, ...).
LockOutcome lock_home(const HomePaths& paths);

} // namespace hgw
