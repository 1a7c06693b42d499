#pragma once
// Is a file open anywhere but here? Asked of the kernel with a write lease
// (fcntl F_SETLEASE, F_WRLCK), which it grants only when no other open file
// description of the file exists, and which we give back at once.
//
// It answers in microseconds what a scan of every process's fd table (or a
// read of /proc/locks) answers in milliseconds: a lock file that nobody else
// has open is held by nobody. It takes no lock, so a starter's non-blocking
// flock never fails because of it; an open() by someone else in that moment
// waits until we give the lease back, and an O_NONBLOCK open fails with
// EWOULDBLOCK instead, which open_through_lease() below turns into that wait.
//
// The kernel tells the lease holder of such an open with a signal: SIGURG
// here (set with F_SETSIG), whose default action is to be ignored, so no
// caller has to handle it.

#include "util/unique_fd.h"

#include <sys/types.h>

#include <filesystem>

namespace hgw {

enum class OpenElsewhere {
    No,      // nobody else has it open (or it does not exist)
    Yes,     // some other open file description exists
    Unknown, // no lease here (not a regular file, not ours to lease, leases off, NFS...)
};

OpenElsewhere open_elsewhere(const std::filesystem::path& path);

// The same for a file we have open already through `fd` (our only open of it).
OpenElsewhere open_elsewhere(int fd);

// open(path, flags | O_NONBLOCK | O_NOFOLLOW, mode), except that when a lease
// holder is giving the file up (EWOULDBLOCK) it waits for that, reopening the
// same regular file through an O_PATH descriptor, so no FIFO swapped in
// meanwhile can make it hang. Returns an invalid fd with errno set on failure.
UniqueFd open_through_lease(const std::filesystem::path& path, int flags, mode_t mode = 0);

} // namespace hgw
