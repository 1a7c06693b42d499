#pragma once
// Starting the gateway as our child: its own session and process group, a
// clean signal state, only the fds we mean it to have, and an exec failure
// reported back to us instead of a mysterious exit 127.

#include <sys/types.h>

#include <filesystem>
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
};

// Forks and execs. Returns the child's PID; throws hgw::Error when the exec
// failed (with the reason), SystemError when fork failed.
pid_t spawn_process(const SpawnRequest& request);

// Our environment, minus what belongs to our own service manager (its
// notify socket, watchdog and socket-activation variables).
std::map<std::string, std::string> inheritable_environment();

} // namespace hgw::daemon
