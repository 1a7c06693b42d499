#pragma once
// One answer to "is a gateway running for this home, and which one?".
// It follows Hermes' rules (lock, then record, then process) so that we and
// Hermes agree, and is stricter where Hermes is weak: boot id, start time
// missing, unsafe files.

#include "core/home.h"
#include "core/lock_holders.h"
#include "core/lock_probe.h"
#include "core/record_file.h"
#include "process/process_info.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw {

enum class VerdictKind { None, Live, Stale, Corrupt, Unsafe };

enum class StaleReason {
    ProcessGone,  // no such process, or a zombie
    PidReused,    // the PID now belongs to a process with another start time
    PreviousBoot, // recorded under another boot id
    NotGateway,   // the PID runs something that is not a Hermes gateway
    OtherHome,    // the record names another Hermes home
    LockFree,     // nobody holds gateway.lock and the identity is unproven
    NotHolder,    // the recorded process does not hold this home's gateway.lock
};

std::string_view to_string(VerdictKind k);
std::string_view to_string(StaleReason r);

struct Verdict {
    VerdictKind kind = VerdictKind::None;
    std::optional<StaleReason> reason; // for Stale
    std::string summary;               // one line for people
    RecordFile file;                   // what gateway.pid held
    LockState lock;
    std::optional<ProcessInfo> process;
    // For a record whose process is alive: does it hold this home's
    // gateway.lock (seen in its fdinfo)? Live with Unknown means another
    // user's process that we cannot inspect, holding the lock per /proc/locks:
    // a gateway runs, but it is not proven to be one we may signal.
    std::optional<Holds> holds_lock;
    std::string boot_id;               // this boot's
    std::vector<std::string> notes;    // further evidence, one fact a line

    [[nodiscard]] const std::optional<PidRecord>& record() const { return file.record; }
};

struct ValidateOptions {
    // Set when the caller holds gateway.lock itself: then the lock proves
    // nothing about the record's process.
    bool we_hold_lock = false;
    // With we_hold_lock: the inode we hold (InstanceLock::id()).
    FileId held_lock_id;
};

Verdict validate(const HomePaths& paths, const ValidateOptions& options = {});

// Exit code of `pidfile check`, as LSB status codes: 0 live, 1 stale,
// 3 none, 4 corrupt or unsafe.
int check_exit_code(VerdictKind k);

// "pid 4242 since 2026-11-29 18:43:07 UTC", or "pid 4242" when unknown.
std::string describe_process(const PidRecord& record);

} // namespace hgw
