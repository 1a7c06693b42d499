#pragma once
// The PID-file protocol: acquire, release and clean, race-free.
//
//  * gateway.lock's flock is the single-instance proof; the record is a
//    description of the holder, never the proof.
//  * A stale record is removed only while we hold the lock, and only the
//    very file that was judged stale (compared by inode).
//  * Records are published whole (temp file, fsync, link), so no reader
//    ever sees an empty or half-written gateway.pid.
//  * Release removes the record only if it still names us (pid, start time
//    and boot id), and never removes gateway.lock.

#include "core/home.h"
#include "core/instance_lock.h"
#include "core/validation.h"

#include <filesystem>
#include <optional>
#include <string>

namespace hgw {

// What cleaning found and did.
struct CleanOutcome {
    enum class Action {
        NothingToDo, // no record
        Removed,     // a stale record was removed
        Quarantined, // a corrupt record was moved aside (kept, not deleted)
        KeptLive,    // the record names a live gateway: left alone
        KeptUnsafe,  // the record is not ours to touch: left alone
        Busy,        // another process holds gateway.lock: nothing touched
    };
    Action action = Action::NothingToDo;
    Verdict verdict;
    std::filesystem::path moved_to; // for Quarantined
    std::string message;            // one line for people
};

std::string_view to_string(CleanOutcome::Action a);

// Cleans while the caller holds `lock` for this home.
CleanOutcome clean_under_lock(const HomePaths& paths, const InstanceLock& lock);

// Judges without the lock; takes it (without waiting) only when there is a
// stale or corrupt record to remove, and holds it for that judgement and
// removal only: a home with no record is cleaned without any flock, so a
// gateway starting meanwhile never finds its lock taken by us.
CleanOutcome clean(const HomePaths& paths);

// A won acquisition: we hold gateway.lock and gateway.pid names us.
class Claim {
public:
    Claim(HomePaths paths, InstanceLock lock, PidRecord record);
    Claim(Claim&&) noexcept = default;
    Claim& operator=(Claim&&) noexcept = default;
    ~Claim();

    [[nodiscard]] const PidRecord& record() const noexcept { return record_; }
    [[nodiscard]] const InstanceLock& lock() const noexcept { return *lock_; }

    // Removes gateway.pid if it still names us, then lets the lock go.
    // Returns whether the record was removed. Safe to call twice.
    bool release();

private:
    HomePaths paths_;
    std::optional<InstanceLock> lock_;
    PidRecord record_;
};

struct AcquireOutcome {
    std::optional<Claim> claim; // set when we won
    Verdict running;            // when we lost: who runs
    std::string message;        // when we lost: "already running: pid N since T"
    CleanOutcome cleaned;       // what was cleaned on the way
};

// Claims the home for the process `ours` describes: lock_home() then
// HomeLock::publish() (core/home_lock.h). Exactly one of any number of
// concurrent callers wins. Throws UnsafeFileError when an unsafe file
// blocks the way, SystemError on I/O failure.
AcquireOutcome acquire(const HomePaths& paths, const PidRecord& ours);

// Strictly the same process: same pid, and start time and boot id both
// known on both sides and equal.
bool is_exactly(const PidRecord& ours, const PidRecord& other);

} // namespace hgw
