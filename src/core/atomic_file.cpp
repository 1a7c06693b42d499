#include "core/atomic_file.h"

#include "util/errors.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <random>

namespace hgw {

std::filesystem::path sibling(const std::filesystem::path& path, const std::string& tag)
{
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return path.parent_path() /
           ("." + path.filename().string() + "." + tag + "-" + std::to_string(::getpid()) + "-" +
            std::to_string(rng() & 0xffffffffu));
}

void fsync_dir(const std::filesystem::path& dir)
{
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd)
        ::fsync(fd.get());
}

namespace {

struct Temp {
    std::filesystem::path path;
    FileId id;
};

// The temporary file must not outlive a failure (a full disk must not fill
// up further with our leftovers): remove it, then report errno's error.
[[noreturn]] void discard_and_throw(const std::filesystem::path& tmp, const std::string& what)
{
    int err = errno;
    ::unlink(tmp.c_str());
    throw SystemError(what + " " + tmp.string(), err);
}

// Writes a complete (and, with `sync`, synced) temporary file beside `path`.
// On any error the temporary file is gone again before the SystemError leaves.
Temp write_temp(const std::filesystem::path& path, const std::string& text, bool sync = true)
{
    auto tmp = sibling(path, "tmp");
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd)
        throw_errno("create " + tmp.string(), "check that the Hermes home is writable");
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            discard_and_throw(tmp, "write");
        done += static_cast<std::size_t>(n);
    }
    // The mode must not depend on the umask: readers refuse writable-by-others files.
    ::fchmod(fd.get(), 0644);
    if (sync && ::fsync(fd.get()) != 0)
        discard_and_throw(tmp, "fsync");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        discard_and_throw(tmp, "fstat");
    return {tmp, {st.st_dev, st.st_ino}};
}

bool names(const std::filesystem::path& path, FileId id)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && FileId{st.st_dev, st.st_ino} == id;
}

// Moves `path` to `aside` if it names `id`; if it turned out to be another
// file, puts that file back. Returns true when `aside` now holds the judged file.
bool move_aside_if_same(const std::filesystem::path& path, FileId id, const std::filesystem::path& aside)
{
    if (::rename(path.c_str(), aside.c_str()) != 0) {
        if (errno == ENOENT)
            return false;
        throw_errno("rename " + path.string());
    }
    if (names(aside, id))
        return true;
    // Someone replaced the file after we judged it: restore theirs. link()
    // fails if yet another file appeared meanwhile; then theirs is newer
    // still and the one we hold is kept aside, not deleted.
    if (::link(aside.c_str(), path.c_str()) == 0)
        ::unlink(aside.c_str());
    return false;
}

} // namespace

std::optional<FileId> publish_new(const std::filesystem::path& path, const std::string& text)
{
    auto [tmp, id] = write_temp(path, text);
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
        if (err == EEXIST)
            return std::nullopt;
        throw SystemError("link " + path.string(), err);
    }
    fsync_dir(path.parent_path());
    return id;
}

bool publish_exclusive(const std::filesystem::path& path, const std::string& text)
{
    return publish_new(path, text).has_value();
}

void publish_replace(const std::filesystem::path& path, const std::string& text, Durability durability)
{
    const bool sync = durability == Durability::Synced;
    auto tmp = write_temp(path, text, sync).path;
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw SystemError("rename " + path.string(), err);
    }
    if (sync)
        fsync_dir(path.parent_path());
}

bool remove_if_same(const std::filesystem::path& path, FileId id)
{
    auto aside = sibling(path, "removing");
    if (!move_aside_if_same(path, id, aside))
        return false;
    ::unlink(aside.c_str());
    fsync_dir(path.parent_path());
    return true;
}

std::filesystem::path quarantine_if_same(const std::filesystem::path& path, FileId id)
{
    auto target = path;
    target += ".corrupt-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(::getpid());
    if (!move_aside_if_same(path, id, target))
        return {};
    fsync_dir(path.parent_path());
    return target;
}

} // namespace hgw
