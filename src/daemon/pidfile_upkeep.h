#pragma once
// Keeping gateway.pid true around our gateway's life: what the pre-start
// clean found, the record we write for a gateway that writes none, the
// record a dead gateway left, and readiness by record.

#include "core/home.h"
#include "core/pid_record.h"
#include "core/pidfile.h"
#include "daemon/config.h"

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace hgw::daemon {

// Why the clean's outcome blocks a start, or nothing.
std::optional<std::string> pidfile_problem(const CleanOutcome& cleaned);

// Tells `repaired(verdict, stale_pid)` when the clean removed or moved a record.
void report_repair(const CleanOutcome& cleaned, const std::function<void(const std::string&, pid_t)>& repaired);

// The record the daemon writes (--write-pidfile) for its child `pid`.
PidRecord gateway_record(const HomePaths& paths, const Config& config, pid_t pid, std::uint64_t generation);

// The record to keep true for our ready gateway `pid`: the one it published
// if gateway.pid still holds it, else the one it would have (from /proc; in
// --write-pidfile mode, ours).
std::string record_to_keep(const HomePaths& paths, const Config& config, pid_t pid, std::uint64_t generation);

// Our gateway `pid` exited (not reaped yet): remove the record it left, if it
// still names it. Calls `removed("stale")` when it did.
void remove_record_of(const HomePaths& paths, pid_t pid, std::uint64_t start_time,
                      const std::function<void(const std::string&)>& removed);

// Has `pid` written its record and taken the lock (readiness by record)?
bool record_ready(const HomePaths& paths, pid_t pid);

// Why a new gateway could not start in this home now, or nothing (the
// check before a replace stops the running one).
std::optional<std::string> start_problem(const HomePaths& paths);

// Is the home's file system full or read-only? A gateway that dies there
// died of its environment: the daemon waits for it to change instead of
// counting the exit toward a crash loop.
std::optional<std::string> storage_problem(const HomePaths& paths);

} // namespace hgw::daemon
