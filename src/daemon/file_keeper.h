#pragma once
// Keeps gateway.pid and gateway.lock true while our gateway runs.
//
// Hermes' own "is a gateway running?" reader (hermes status, the updater,
// the dashboard, every `hermes gateway run`) deletes both files when it
// cannot vouch for them, without taking the lock, and a reader that lands
// between a gateway's flock and its record deletes a *held* lock: the path
// then names no locked file, and a second gateway could acquire. Whoever
// deletes them, this puts them back, on inotify events of the home (no
// polling):
//  - gateway.pid missing or not naming our gateway: the record is
//    published again, atomically;
//  - gateway.lock no longer naming the file our gateway holds locked (an
//    unlinked inode cannot be linked back): a fresh gateway.lock with the
//    record inside is put in place already locked by us, and we hold it
//    while the gateway lives, so a starter finds it held and a reader finds
//    a record it accepts.
// Each repair is logged with what was found and reported to the caller; a
// tool deleting in a loop gets a burst of 100 repairs, then 100 a second (a
// token bucket), reported once: never a busy loop.

#include "core/home.h"
#include "core/record_file.h"
#include "daemon/event_loop.h"
#include "util/unique_fd.h"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace hgw::daemon {

class FileKeeper {
public:
    // `repaired(what, pid)`: what was put back ("missing", "replaced",
    // "lock-replaced"), for our gateway `pid`.
    using Repaired = std::function<void(const std::string& what, pid_t pid)>;

    FileKeeper(EventLoop& loop, const HomePaths& paths, Repaired repaired);

    // Our gateway `pid` holds `lock` (the inode it locked); `record` is the
    // record to keep (its own, or one for it naming us as its manager).
    // Until it is ready (keep_record false) only gateway.lock is kept: the
    // gateway creates gateway.pid itself, exclusively, and must find the
    // name free. Calling it again for the same pid updates what is kept.
    void adopt(pid_t pid, std::uint64_t start_time, FileId lock, std::string record, bool keep_record);

    // gateway.pid or gateway.lock changed: put right what is wrong.
    void check();

    // Our gateway is gone (or another starts): forget it and let go of our
    // lock on gateway.lock, so the next gateway can take it.
    void release();

    [[nodiscard]] std::uint32_t repairs() const noexcept { return repairs_; }

private:
    bool record_true() const;
    bool lock_true() const;
    void repair_record();
    void repair_lock();
    bool allow_repair();

    EventLoop& loop_;
    const HomePaths& paths_;
    Repaired repaired_;
    pid_t pid_ = 0;
    std::uint64_t start_time_ = 0;
    FileId child_lock_{};
    std::string record_;
    bool keep_record_ = false;
    UniqueFd our_lock_; // a gateway.lock we put in place, locked, while the gateway lives
    FileId our_lock_id_{};
    double tokens_ = 20;              // repairs allowed now (the bucket)
    std::uint64_t refilled_at_ = 0;   // monotonic usec
    EventSource retry_;
    bool storm_reported_ = false;
    std::uint32_t repairs_ = 0;
};

} // namespace hgw::daemon
