#pragma once
// Who holds a flock on a given file, seen from each process's own fd table
// (/proc/<pid>/fd and /proc/<pid>/fdinfo), never guessed from /proc/locks:
// /proc/locks names the process that *took* the lock, which may be dead (a
// worker that inherited the fd holds it now) or may have handed it over (the
// daemon, after spawning the gateway with the locked fd).

#include "core/record_file.h"

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace hgw {

enum class Holds {
    Yes,     // one of its fds is the file and that fd's description holds a FLOCK
    No,      // provably not: no such process, or none of its fds holds it
    Unknown, // its fd table is hidden from us (another user's process: EACCES)
};

std::string_view to_string(Holds h);

// Does `pid` hold a flock on the file `lock_id` names, through any of its fds?
Holds process_holds_lock(pid_t pid, FileId lock_id);

// The file named `path` (or named so before it was unlinked or replaced) on
// which `pid` holds a flock, through any of its fds: the lock a gateway
// holds even after a reader deleted or replaced the path. Nothing when it
// holds none (or its fd table is hidden from us).
std::optional<FileId> flock_on_path(pid_t pid, const std::filesystem::path& path);

// Every process we can see that holds a flock on `lock_id` (ascending pids).
// Processes whose fd tables we may not read are not listed.
std::vector<pid_t> find_lock_holders(FileId lock_id);

// True when an fdinfo text has a `lock:` line for a FLOCK (not a POSIX lock
// or lease). Exposed for tests.
bool fdinfo_has_flock(std::string_view fdinfo);

} // namespace hgw
