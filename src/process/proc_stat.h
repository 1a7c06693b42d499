#pragma once
// Parsing of /proc/<pid>/stat. The process name (field 2) may hold spaces and
// parentheses, so the fixed fields are read after the *last* ')'.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hgw {

struct ProcStat {
    std::string comm;        // field 2, without the parentheses
    char state = '?';        // field 3: R, S, D, Z, ...
    pid_t ppid = 0;          // field 4
    std::uint64_t start_time = 0; // field 22: clock ticks since boot
};

// Returns nothing when the text is not a well-formed stat line.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

} // namespace hgw
