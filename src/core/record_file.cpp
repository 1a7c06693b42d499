#include "core/record_file.h"

#include "core/open_elsewhere.h"

#include "util/errors.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hgw {

namespace {

std::string octal(mode_t m)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

} // namespace

const char* file_type_name(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISLNK(m)) return "a symlink";
    if (S_ISREG(m)) return "a regular file";
    return "not a regular file";
}

namespace {

RecordFile unsafe(std::string why)
{
    RecordFile f;
    f.status = FileStatus::Unsafe;
    f.problem = std::move(why);
    return f;
}

RecordFile open_failure(const std::filesystem::path& path, int err)
{
    if (err == ENOENT)
        return {};
    if (err == ELOOP)
        return unsafe("is a symlink; refusing to follow it");
    if (err == EACCES || err == EPERM)
        return unsafe("cannot be read: " + std::string(std::strerror(err)));
    if (err == ENOTDIR)
        return unsafe("a parent of " + path.string() + " is not a directory");
    if (err == ENXIO)
        return unsafe("is a socket or device with no reader");
    throw SystemError("open " + path.string(), err);
}

} // namespace

uid_t directory_owner(const std::filesystem::path& path)
{
    struct stat st {};
    auto dir = path.parent_path();
    if (::stat(dir.empty() ? "." : dir.c_str(), &st) != 0)
        return ::geteuid();
    return st.st_uid;
}

std::string trust_problem(uid_t owner, gid_t group, mode_t mode, uid_t dir_owner)
{
    uid_t me = ::geteuid();
    if (owner != me && owner != 0 && owner != dir_owner)
        return "is owned by uid " + std::to_string(owner) + ", not by us (uid " + std::to_string(me) +
               "), root, or the owner of its directory (uid " + std::to_string(dir_owner) + ")";
    if (mode & S_IWOTH)
        return "is writable by every user (mode " + octal(mode) + ")";
    if ((mode & S_IWGRP) && group != ::getegid() && group != 0)
        return "is writable by group " + std::to_string(group) + " (mode " + octal(mode) + ")";
    return {};
}

RecordFile read_record_file(const std::filesystem::path& path, std::size_t cap)
{
    // O_NONBLOCK: opening a FIFO must not hang waiting for a writer.
    // (A lease someone holds for a moment, to ask whether the file is open
    // elsewhere, would fail an O_NONBLOCK open with EWOULDBLOCK: waited out.)
    UniqueFd fd = open_through_lease(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (!fd)
        return open_failure(path, errno);

    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw_errno("fstat " + path.string());
    if (!S_ISREG(st.st_mode))
        return unsafe(std::string("is ") + file_type_name(st.st_mode) + ", not a regular file");

    RecordFile f;
    f.id = {st.st_dev, st.st_ino};
    f.pin = std::make_shared<const UniqueFd>(std::move(fd));
    int rfd = f.pin->get();
    f.owner = st.st_uid;
    if (auto why = trust_problem(st.st_uid, st.st_gid, st.st_mode, directory_owner(path)); !why.empty()) {
        f.status = FileStatus::Unsafe;
        f.problem = why;
        return f;
    }
    if (static_cast<std::size_t>(st.st_size) > cap) {
        f.status = FileStatus::Corrupt;
        f.problem = "is " + std::to_string(st.st_size) + " bytes, larger than the " +
                    std::to_string(cap) + "-byte cap for a record";
        return f;
    }

    std::string bytes;
    char buf[4096];
    while (bytes.size() <= cap) {
        ssize_t n = ::read(rfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return open_failure(path, errno);
        if (n == 0)
            break;
        bytes.append(buf, static_cast<std::size_t>(n));
    }
    if (bytes.size() > cap) {
        f.status = FileStatus::Corrupt;
        f.problem = "grew past the " + std::to_string(cap) + "-byte cap while being read";
        return f;
    }

    auto parsed = parse_record(bytes);
    if (!parsed.record) {
        f.status = FileStatus::Corrupt;
        f.problem = parsed.error;
        return f;
    }
    f.status = FileStatus::Record;
    f.record = std::move(parsed.record);
    return f;
}

} // namespace hgw
