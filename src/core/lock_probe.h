#pragma once
// Is gateway.lock held, and by whom? Answered from /proc/locks, so a check
// never takes the lock itself: taking it, even for a moment, could make a
// gateway that is starting right then believe another instance runs.

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
    std::string method;  // "proc-locks" or "flock-probe"
    std::string problem; // set when the lock file is not one we may trust
};

LockState probe_lock(const std::filesystem::path& lock_path);

// Parses /proc/locks text: PIDs holding (not waiting for) a FLOCK on `id`,
// or on the same inode number on `overlay_dev` (see probe_lock). Returns
// nothing when no line matches.
std::vector<pid_t> flock_holders(const std::string& proc_locks, FileId id,
                                 std::optional<dev_t> overlay_dev = std::nullopt);

} // namespace hgw
