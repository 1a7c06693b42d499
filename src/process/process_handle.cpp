#include "process/process_handle.h"

#include "process/process_info.h"
#include "util/errors.h"

#include <poll.h>
#include <signal.h>
#include "process/pidfd.h"

#include <cerrno>

namespace hgw {

ProcessHandle ProcessHandle::for_child(pid_t pid)
{
    int fd = hgw::pidfd_open(pid);
    if (fd < 0)
        throw_errno("pidfd_open(" + std::to_string(pid) + ")",
                    "Linux 5.3 or later is needed for pidfd support");
    return ProcessHandle(pid, UniqueFd(fd));
}

std::optional<ProcessHandle> ProcessHandle::open_verified(const ProcessIdentity& expected,
                                                          std::string* why)
{
    auto refuse = [&](std::string reason) -> std::optional<ProcessHandle> {
        if (why)
            *why = std::move(reason);
        return std::nullopt;
    };
    if (expected.pid <= 0)
        return refuse("no valid PID");
    if (expected.boot_id != current_boot_id())
        return refuse("recorded on another boot");

    int raw = hgw::pidfd_open(expected.pid);
    if (raw < 0)
        return refuse(errno == ESRCH ? "process is gone" : "pidfd_open failed");
    ProcessHandle handle(expected.pid, UniqueFd(raw));

    // Order matters: the pidfd is pinned first, then /proc is read, then we
    // check the pinned process is still alive. If the PID had been reused
    // before pidfd_open, the start time read here differs; if the pinned
    // process died after it, the liveness check below fails.
    auto start = read_start_time(expected.pid);
    if (!start)
        return refuse("start time unreadable");
    if (*start != expected.start_time)
        return refuse("PID reused: start time " + std::to_string(*start) + " != recorded " +
                      std::to_string(expected.start_time));
    if (!handle.running())
        return refuse("process is gone");
    return handle;
}

bool ProcessHandle::send_signal(int sig) const
{
    if (hgw::pidfd_send_signal(fd_.get(), sig) == 0)
        return true;
    if (errno == ESRCH)
        return false;
    throw_errno("pidfd_send_signal(" + std::to_string(pid_) + ", " + std::to_string(sig) + ")");
}

bool ProcessHandle::running() const
{
    pollfd p{fd_.get(), POLLIN, 0};
    int n = ::poll(&p, 1, 0);
    return n == 0;
}

} // namespace hgw
