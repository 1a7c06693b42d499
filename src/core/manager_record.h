#pragma once
// What a hermes-gatewayd writes into <home>/gatewayd.lock: who it is, and the
// gateway it is about to run (written before the child execs), so the next
// daemon can recognise an orphan by identity even before it holds gateway.lock.

#include "process/process_handle.h"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hgw {

struct ManagerRecord {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    std::string boot_id;
    std::optional<ProcessIdentity> child;
};

// {"pid":1,"start_time":2,"boot_id":"...","child":{"pid":3,"start_time":4,"boot_id":"..."}|null}
std::string serialize_manager_record(const ManagerRecord& record);

// Anything else (another shape, wrong types, a pid out of range, bytes that
// are not JSON, a hostile file) is no record: never an exception.
std::optional<ManagerRecord> parse_manager_record(std::string_view bytes);

} // namespace hgw
