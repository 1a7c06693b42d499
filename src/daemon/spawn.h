#pragma once
// Starting the gateway as our child: its own session and process group, a
// clean signal state, only the fds we mean it to have, and an exec failure
// reported back to us instead of a mysterious exit 127.

#include <sys/types.h>

#include "util/errors.h"

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hgw::daemon {

struct SpawnRequest {
    std::vector<std::string> argv;            // argv[0] is looked up in PATH
    std::map<std::string, std::string> env;   // the complete environment
    std::filesystem::path working_directory;  // empty: ours
    int inherit_fd = -1;                      // passed on at the same number, or -1
    bool set_watchdog_pid = false;            // add WATCHDOG_PID=<child pid>
    bool die_with_parent = false;             // SIGKILL when the daemon dies (PR_SET_PDEATHSIG)
};

// Runs in the parent between fork and exec, while the child waits: what
// must be on disk before the gateway can run (the marker that lets a later
// daemon find it, the record written for it). If it throws, the child is
// killed before it ever ran and the exception goes on.
using BeforeExec = std::function<void(pid_t child)>;

// Forks and execs. Returns the child's PID. Throws ExecError when the exec
// failed (with the reason), SystemError when fork failed.
pid_t spawn_process(const SpawnRequest& request, const BeforeExec& before_exec = {});

// The command cannot be run (not found, not executable, bad working
// directory): a configuration error, not a passing fault.
class ExecError : public Error {
public:
    using Error::Error;
};

// Our environment, minus what belongs to our own service manager (its
// notify socket, watchdog and socket-activation variables).
std::map<std::string, std::string> inheritable_environment();

} // namespace hgw::daemon
