#pragma once
// Is gateway.lock held, and by whom? A check never takes the lock itself:
// taking it, even for a moment, could make a gateway that is starting right
// then believe another instance runs. Cheapest first:
//  1. the process we expect to hold it (the record's), in its own fd table
//     (/proc/<pid>/fdinfo: the lock is printed under the inode's spinlock);
//  2. nobody else has the file open at all (a lease the kernel grants only
//     then, given back at once): then nobody holds it;
//  3. only then /proc/locks, to name a holder we could not see otherwise.
// Reading /proc/locks takes a system-wide lock for writing and, when nobody
// read it lately, waits for an RCU grace period: milliseconds, during which
// every flock() on the machine waits too.

#include "core/record_file.h"

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hgw {

struct LockState {
    bool exists = false;
    bool held = false;
    // Processes holding it now, confirmed in their fdinfo (never a dead pid,
    // never one that let its fd go); one whose fds are hidden from us is kept
    // as /proc/locks names it. May be empty although held (hidden holders).
    std::vector<pid_t> holders;
    FileId id;
    std::string method;  // "fdinfo", "lease", "proc-locks" or "flock-probe"
    std::string problem; // set when the lock file is not one we may trust
};

// `expected`: pids to ask first (the record's; the manager named inside
// gateway.lock, which may hold it on the gateway's behalf), 0 for none.
LockState probe_lock(const std::filesystem::path& lock_path, pid_t expected_holder = 0, pid_t also_expected = 0);

// Parses /proc/locks text: PIDs holding (not waiting for) a FLOCK on `id`,
// or on the same inode number on `overlay_dev` (see probe_lock). Returns
// nothing when no line matches.
std::vector<pid_t> flock_holders(const std::string& proc_locks, FileId id,
                                 std::optional<dev_t> overlay_dev = std::nullopt);

} // namespace hgw
