#pragma once
// The gateway record, as Hermes writes it to gateway.pid and gateway.lock,
// plus fields of ours that Hermes ignores (it reads records by key).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw {

inline constexpr std::string_view kGatewayKind = "hermes-gateway";

// The process that supervises the gateway, when there is one.
struct ManagerInfo {
    pid_t pid = 0;
    std::optional<std::uint64_t> start_time;
    std::string name; // e.g. "hermes-gatewayd"
    std::optional<std::uint64_t> generation;
};

struct PidRecord {
    // Hermes' schema.
    pid_t pid = 0;
    std::optional<std::string> kind;
    std::optional<std::vector<std::string>> argv;
    std::optional<std::uint64_t> start_time; // null in JSON when unknown
    std::optional<std::string> hermes_home;
    // Ours.
    std::optional<std::string> boot_id;
    std::optional<ManagerInfo> manager;
    // Read from a legacy file that held only a bare integer.
    bool legacy = false;
};

struct RecordParse {
    std::optional<PidRecord> record;
    std::string error; // set when record is empty: why the bytes are not a record
};

// Accepts what Hermes accepts: an optional UTF-8 BOM, surrounding white
// space, a JSON object with an integer "pid", or a bare integer. Stricter
// than Hermes on types: a pid given as a string or a float is refused.
RecordParse parse_record(std::string_view bytes);

// Compact JSON, keys in Hermes' order, ours last.
std::string serialize_record(const PidRecord& record);

// Builds the record describing `pid` as a gateway of `home`, from /proc.
PidRecord record_for_process(pid_t pid, const std::filesystem::path& home);

// Same pid, and where both sides know them, same start time and boot id.
bool same_process(const PidRecord& a, const PidRecord& b);

} // namespace hgw
