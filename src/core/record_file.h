#pragma once
// Reading a record file we do not trust: bounded, no symlinks, no FIFOs, no
// files that other users could have written.

#include "core/pid_record.h"
#include "util/unique_fd.h"

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace hgw {

// Identifies one inode; kept with an open fd it cannot be recycled.
struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const FileId&) const = default;
};

inline constexpr std::size_t kRecordSizeCap = 64 * 1024;

enum class FileStatus {
    Missing, // no such file
    Record,  // a well-formed record
    Corrupt, // a regular, trusted file whose bytes are not a record
    Unsafe,  // not a file we may trust or touch
};

struct RecordFile {
    FileStatus status = FileStatus::Missing;
    std::optional<PidRecord> record;
    std::string problem; // for Corrupt and Unsafe: what exactly is wrong
    FileId id;           // valid unless Missing
    uid_t owner = 0;
    // The fd we read through, kept open: while it is, the inode cannot be
    // freed, so `id` cannot come to name a newer file.
    std::shared_ptr<const UniqueFd> pin;
};

// Opens with O_NOFOLLOW|O_NONBLOCK, checks type, owner and mode on the open
// fd (so the checks and the read concern one inode), reads at most `cap`
// bytes. Never throws for bad contents; throws SystemError only for I/O
// errors that say nothing about the file (ENOMEM, EIO, ...).
RecordFile read_record_file(const std::filesystem::path& path, std::size_t cap = kRecordSizeCap);

// Why a file with this owner and mode is not to be trusted, or empty if it
// is. Trusted owners: us, root, and the owner of the directory holding the
// file (who could replace it anyway), so root can judge a user's home.
std::string trust_problem(uid_t owner, gid_t group, mode_t mode, uid_t dir_owner);

// "a directory", "a FIFO", "a symlink", ... for a file type in st_mode.
const char* file_type_name(mode_t mode);

// The owner of the directory that holds `path`, or our euid if unknown.
uid_t directory_owner(const std::filesystem::path& path);

} // namespace hgw
