#pragma once
// What the kernel can tell us about a PID, without ever signalling it.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw {

enum class Liveness {
    Alive,        // kill(pid, 0) succeeded
    AliveNotOurs, // kill(pid, 0) gave EPERM: it exists, owned by someone else
    Zombie,       // exited, not yet reaped: counts as gone
    Gone,         // ESRCH
};

std::string_view to_string(Liveness l);
inline bool is_alive(Liveness l) { return l == Liveness::Alive || l == Liveness::AliveNotOurs; }

struct ProcessInfo {
    pid_t pid = 0;
    Liveness liveness = Liveness::Gone;
    std::optional<std::uint64_t> start_time;          // unknown when /proc hides it
    std::optional<std::vector<std::string>> argv;     // unknown when unreadable or empty
    std::optional<uid_t> uid;
};

// Probes liveness with kill(pid, 0) and reads what /proc shows. pid must be > 0.
ProcessInfo probe_process(pid_t pid);

std::optional<std::uint64_t> read_start_time(pid_t pid);
std::optional<std::vector<std::string>> read_cmdline(pid_t pid);
std::optional<uid_t> read_uid(pid_t pid);

// /proc/sys/kernel/random/boot_id, read once per process (it cannot change).
const std::string& current_boot_id();

// Wall-clock time (seconds since the epoch) at which a process started,
// from its start time in clock ticks and the boot time in /proc/stat.
std::optional<double> start_time_to_epoch(std::uint64_t ticks);

// Reads a small /proc or sysfs text file; nothing when unreadable.
std::optional<std::string> read_small_file(const std::string& path, std::size_t cap = 65536);

// /proc/<pid>/environ as a map; nothing when it is gone or not ours to read.
std::optional<std::map<std::string, std::string>> read_environment(pid_t pid);

} // namespace hgw
