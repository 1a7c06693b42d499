#pragma once
// A pidfd-backed handle: once built, it names one process for ever, so a
// signal sent through it can never reach a process that reused the PID.

#include "util/unique_fd.h"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace hgw {

// Who a process is: a PID alone is not an identity, a PID plus its start time
// on a given boot is.
struct ProcessIdentity {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    std::string boot_id;
};

class ProcessHandle {
public:
    // For a child we have not reaped yet: its PID cannot be recycled, so no
    // identity check is needed. Throws SystemError if pidfd_open fails.
    static ProcessHandle for_child(pid_t pid);

    // Opens a pidfd and proves that it names `expected`: same boot, same
    // start time, still alive after the pidfd was opened. On refusal returns
    // nothing and, when `why` is given, says why.
    static std::optional<ProcessHandle> open_verified(const ProcessIdentity& expected,
                                                      std::string* why = nullptr);

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    // Sends through the pidfd. Returns false if the process has already exited;
    // throws SystemError on any other failure.
    bool send_signal(int sig) const;

    // True while the process has not exited (the pidfd is not yet readable).
    [[nodiscard]] bool running() const;

private:
    ProcessHandle(pid_t pid, UniqueFd fd) : pid_(pid), fd_(std::move(fd)) {}
    pid_t pid_;
    UniqueFd fd_;
};

} // namespace hgw
