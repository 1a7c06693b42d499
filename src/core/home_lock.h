#pragma once
// Taking a Hermes home, in two steps so that a supervisor can spawn its
// gateway in between: for a process that is itself the gateway (acquire()),
// and for hermes-gatewayd --write-pidfile, which takes the home for a child
// that writes no files and hands it the locked file. acquire() is exactly
// lock_home() then publish(), so what the torture test proves is what the
// daemon runs.
//
// Why it is built this way: Hermes' own reader (`hermes status`, the
// updater, the dashboard, the start of every `hermes gateway run`; modelled
// in tests/stub) probes gateway.lock with a non-blocking flock. When the
// lock is held it believes gateway.pid, else the record inside gateway.lock,
// only if it names a live process with the same start time and home whose
// *live* command line is a gateway's; when none does, or when the lock is
// free, it unlinks gateway.pid and gateway.lock, without taking the lock.
// So gateway.lock must never be held without such a record (the reader would
// unlink a held lock: the lock splits and a second gateway can start), and
// gateway.pid never be there with the lock free. Before its exec our child's
// command line is the daemon's: the lock it inherits must not be at the name
// gateway.lock until after the exec, and the daemon must never hold the lock
// at that name itself without a record.
//
// The protocol:
//
//  1. lock_home(): reserve the home with an flock on the home directory (one
//     acquisition of ours at a time; Hermes never looks at it), judge the
//     home without taking gateway.lock, remove a stale or corrupt gateway.pid
//     judged twice with the lock free (a starter holds the lock from before
//     it creates gateway.pid until it dies, so such a file is nobody's in the
//     making; only that very inode goes), and create a fresh lock file T
//     under a temporary name (.gateway.lock.new-*), flocked. No reader can
//     see T: it is not at the name.
//  2. The caller spawns its child holding T's fd; spawn returns after exec.
//  3. publish(record), with the record of the child (or our own):
//     a. the record goes into T;
//     b. a placeholder P (.gateway.lock.hold-*), a second fresh file with the
//        same record, locked by us, goes to the name gateway.lock in one step
//        (renameat2 RENAME_EXCHANGE, or RENAME_NOREPLACE when the name is
//        free), so the name passes from a free lock (or none) straight to a
//        held lock with a valid record. The file that was there comes back
//        under P's old name; we flock it: if someone holds it for more than
//        a moment (a gateway, a starter; a reader's probe lasts microseconds)
//        it goes back and we lose, else we hold it from now on;
//     c. a reader that found the lock free just before (b) unlinks
//        gateway.lock a moment later, whatever is there by then: we wait
//        kSettle (20 ms) with P at the name, so that unlink hits P (ours to
//        lose, not the child's), and check that P is still there, placing a
//        new P if a reader took it. (Without the wait, with Hermes' reader
//        polling every 0.2 ms, the child's own lock file was unlinked within
//        a few starts and a second acquire succeeded; with it, one start in
//        ten to twenty places a second P, and none lost its lock.)
//     d. T takes P's place by another exchange (held and valid on both sides,
//        so there is no gap), and what came back is checked to be P;
//     e. gateway.pid is published whole, exclusively (a synced temporary file
//        linked into place; a gateway.pid that appeared meanwhile: we lose);
//     f. every lock file we displaced (the old gateway.lock, P) is unlinked
//        while we hold its lock and let go only once no other process has it
//        open (a write lease tells), so a starter that opened it by its old
//        name cannot lock it afterwards and believe it holds the home.
//  4. hand_over() (the child alone holds T) or into_claim() (we are the gateway).
//
// Each failure is taken back: a lost race or a foreign gateway.pid returns
// false (refusal() says why), an I/O error (ENOSPC, EROFS, EMFILE...) throws
// SystemError; either way no temporary file stays behind, gateway.pid is as
// we found it, and gateway.lock is the file that was there before, free (or
// the one a newer holder put there; where there is no exchange, none). A
// caller with a child must then stop the child: publish runs after its exec.
//
// What no protocol of ours can close, and this one narrows: a reader stalled
// for longer than kSettle between its probe and its unlink still unlinks T;
// on a file system without RENAME_EXCHANGE (NFS) step 3b locks the old
// gateway.lock at its name for the moment of a plain rename, which a reader
// can see. The gateway's exit frees the lock before anyone can remove
// gateway.pid (out of scope here; the daemon removes it before reaping).

#include "core/home.h"
#include "core/instance_lock.h"
#include "core/lock_swap.h"
#include "core/pidfile.h"
#include "core/validation.h"
#include "util/unique_fd.h"

#include <optional>
#include <string>

namespace hgw {

// Step one of an acquisition: the home is reserved for us, cleaned, and a
// fresh lock file is locked, not yet in gateway.lock's place.
class HomeLock {
public:
    HomeLock(HomeLock&&) noexcept = default;
    HomeLock& operator=(HomeLock&&) noexcept = default;
    // Closes our descriptors and removes the temporary name of a lock file
    // that was never published; gateway.lock and gateway.pid stay as they are.
    ~HomeLock() = default;

    // The locked lock file's fd (close-on-exec; clear that flag in the child
    // that is to inherit it).
    [[nodiscard]] int fd() const noexcept { return lock_ ? lock_->fd() : -1; }
    [[nodiscard]] FileId id() const noexcept { return lock_ ? lock_->id() : FileId{}; }
    [[nodiscard]] const CleanOutcome& cleaned() const noexcept { return cleaned_; }

    // Writes `record` into our lock file, puts that file at gateway.lock and
    // publishes `record` whole as gateway.pid (the steps above). Returns
    // false, having taken back all it did, when another process holds
    // gateway.lock or a gateway.pid appeared meanwhile (refusal() says
    // which). Throws SystemError with the errno on I/O errors, Error when
    // gateway.lock keeps vanishing; nothing is left behind either way. Once
    // it failed it cannot be called again.
    bool publish(const PidRecord& record);

    // Why the last publish() returned false.
    [[nodiscard]] const std::string& refusal() const noexcept { return refusal_; }

    // Placeholders the last publish() put at gateway.lock: more than one
    // when readers unlinked one while it settled.
    [[nodiscard]] int placements() const noexcept { return placements_; }

    // Lets our descriptors go without touching gateway.lock or gateway.pid:
    // a child that inherited the fd keeps the lock.
    void hand_over() noexcept;

    // After a successful publish: a Claim that removes the record again on
    // release (what acquire() returns to a process that is the gateway).
    Claim into_claim(PidRecord record) &&;

private:
    friend struct HomeLockAccess;
    HomeLock(HomePaths paths, UniqueFd reservation, TempName staged, InstanceLock lock, CleanOutcome cleaned)
        : paths_(std::move(paths)), reservation_(std::move(reservation)), staged_(std::move(staged)),
          lock_(std::move(lock)), cleaned_(std::move(cleaned)) {}
    HomePaths paths_;
    UniqueFd reservation_; // the flock on the home directory
    TempName staged_;      // our lock file's temporary name, until it is gateway.lock
    std::optional<InstanceLock> lock_;
    CleanOutcome cleaned_;
    std::string refusal_;
    int placements_ = 0;
    bool published_ = false;
};

struct LockOutcome {
    std::optional<HomeLock> locked; // set when the home is ours to publish in, and clean
    // When not: who runs or holds gateway.lock. When another acquisition of
    // ours is under way, lock.held is set and lock.holders names the process
    // that reserved the home.
    Verdict running;
    std::string message;            // when not: one line for people
    CleanOutcome cleaned;
};

// Reserves the home without waiting, judges and cleans it, and stages a
// locked lock file. Throws UnsafeFileError (unsafe gateway.pid or
// gateway.lock), SystemError (I/O: ENOENT home, EROFS, EMFILE, ...).
LockOutcome lock_home(const HomePaths& paths);

} // namespace hgw
