#pragma once
// Parsing of /proc/<pid>/stat. The process name (field 2) may hold spaces and
// parentheses, so the fixed fields are read after the *last* ')'.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw {

struct ProcStat {
    std::string comm;        // field 2, without the parentheses
    char state = '?';        // field 3: R, S, D, Z, ...
    pid_t ppid = 0;          // field 4
    pid_t pgrp = 0;          // field 5: process group
    std::uint64_t start_time = 0; // field 22: clock ticks since boot
};

// Returns nothing when the text is not a well-formed stat line.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// /proc/<pid>/stat, parsed; nothing when the process is gone or unreadable.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// The PIDs in /proc now (processes come and go while it is read).
std::vector<pid_t> list_processes();

} // namespace hgw
