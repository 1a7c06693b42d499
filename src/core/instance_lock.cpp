#include "core/instance_lock.h"

#include "core/lock_file.h"
#include "util/errors.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace hgw {

std::optional<InstanceLock> InstanceLock::try_acquire(const std::filesystem::path& lock_path)
{
    auto locked = try_lock_file(lock_path);
    if (!locked)
        return std::nullopt;
    return InstanceLock(lock_path, std::move(locked->fd), locked->id);
}

void InstanceLock::write_record(const PidRecord& record)
{
    std::string text = serialize_record(record);
    if (::ftruncate(fd_.get(), 0) != 0)
        throw_errno("truncate " + path_.string());
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::pwrite(fd_.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("write " + path_.string());
        done += static_cast<std::size_t>(n);
    }
    // A full disk may only say so here (delayed allocation); EINVAL: a file
    // system that cannot sync, where the write itself was the last word.
    if (::fdatasync(fd_.get()) != 0 && errno != EINVAL)
        throw_errno("sync " + path_.string());
}

void InstanceLock::clear_record()
{
    if (fd_ && ::ftruncate(fd_.get(), 0) != 0)
        throw_errno("truncate " + path_.string());
}

void InstanceLock::release() noexcept
{
    // Close, never LOCK_UN: the lock belongs to the open file description, and
    // a child that inherited it must keep holding it after we let go.
    fd_.reset();
}

} // namespace hgw
