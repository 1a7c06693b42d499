#pragma once
// pidfd system calls. Called through syscall(2): Debian 12's glibc declares
// them in <sys/pidfd.h> without C linkage, so C++ cannot link against it.

#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace hgw {

inline int pidfd_open(pid_t pid)
{
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

inline int pidfd_send_signal(int pidfd, int sig)
{
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

} // namespace hgw
