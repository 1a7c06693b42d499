#pragma once
// Taking an exclusive flock on a file in a home we share with other users'
// programs, the way pidfile(3) does it: open without following symlinks,
// check the file is one we may trust, lock, then make sure the path still
// names the inode we locked. Used for gateway.lock and gatewayd.lock.

#include "core/record_file.h"
#include "util/unique_fd.h"

#include <sys/types.h>

#include <filesystem>
#include <optional>

namespace hgw {

struct LockFileOptions {
    mode_t mode = 0644; // for a file we create
    // On EROFS or EACCES, lock an existing file through a read-only fd
    // (flock needs no write access) rather than fail.
    bool read_only_fallback = false;
};

struct LockedFile {
    UniqueFd fd; // close-on-exec
    FileId id;
    bool writable = true; // false when opened through the read-only fallback
};

// Takes the lock without waiting; nothing when another open file holds it.
// Throws UnsafeFileError for a symlink, a non-regular or untrusted file, and
// SystemError (errno kept: ENOENT, EROFS, EMFILE...) for other failures.
std::optional<LockedFile> try_lock_file(const std::filesystem::path& path, const LockFileOptions& options = {});

} // namespace hgw
