#pragma once
// The daemon's log: the journal (with the gateway's pid and generation as
// fields) when run by systemd, stderr otherwise.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace hgw::daemon::log {

enum class Level { Debug, Info, Warning, Error };

// target: "auto", "journal" or "stderr"; level: "debug", "info", "warning", "error".
void setup(const std::string& target, const std::string& level);

// One line; pid and generation are added as GATEWAY_PID= and
// GATEWAY_GENERATION= journal fields when non-zero.
void write(Level level, const std::string& message, pid_t gateway_pid = 0, std::uint64_t generation = 0);

inline void debug(const std::string& m, pid_t p = 0, std::uint64_t g = 0) { write(Level::Debug, m, p, g); }
inline void info(const std::string& m, pid_t p = 0, std::uint64_t g = 0) { write(Level::Info, m, p, g); }
inline void warning(const std::string& m, pid_t p = 0, std::uint64_t g = 0) { write(Level::Warning, m, p, g); }
inline void error(const std::string& m, pid_t p = 0, std::uint64_t g = 0) { write(Level::Error, m, p, g); }

} // namespace hgw::daemon::log
