#pragma once
// The single-instance proof: an exclusive flock on gateway.lock, opened the
// way pidfile(3) does it (open, lock, then make sure the path still names the
// inode we locked). The lock file is never unlinked: unlinking a held lock
// would let a second starter lock a fresh inode while the first still runs.

#include "core/pid_record.h"
#include "core/record_file.h"
#include "util/unique_fd.h"

#include <filesystem>
#include <optional>

namespace hgw {

class InstanceLock {
public:
    // Takes the lock without waiting. Returns nothing when another process
    // holds it. Throws UnsafeFileError for a lock file we must not use and
    // SystemError for other failures.
    static std::optional<InstanceLock> try_acquire(const std::filesystem::path& lock_path);

    // Replaces the lock file's contents with the record, as Hermes does, so
    // readers of gateway.lock see who holds it.
    void write_record(const PidRecord& record);

    // Empties the lock file's contents (the file itself stays).
    void clear_record();

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] FileId id() const noexcept { return id_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

    // Closes our descriptor; the lock ends when no process has it open.
    void release() noexcept;

private:
    InstanceLock(std::filesystem::path path, UniqueFd fd, FileId id)
        : path_(std::move(path)), fd_(std::move(fd)), id_(id) {}
    std::filesystem::path path_;
    UniqueFd fd_;
    FileId id_;
};

} // namespace hgw
