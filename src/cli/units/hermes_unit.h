#pragma once
// Telling Hermes' own gateway unit (what `hermes gateway install` writes:
// ExecStart runs `hermes … gateway run`, no supervisor) from ours (ExecStart
// runs hermes-gatewayd) and from anything else, and reading from it what
// its gateway was given.

#include "cli/units/unit_file.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hgw::cli {

enum class UnitKind { Hermes, Ours, Other };

struct GatewayUnit {
    UnitKind kind = UnitKind::Other;
    std::vector<std::string> exec;            // ExecStart, split
    std::vector<std::string> gateway_command; // exec without --profile NAME / -p NAME
    std::optional<std::string> profile;       // the --profile it names
    // Environment= assignments in order, NAME and value.
    std::vector<std::pair<std::string, std::string>> environment;
    std::vector<std::string> environment_files; // EnvironmentFile=, as written
    std::optional<std::string> working_directory, user, group;

    [[nodiscard]] std::optional<std::string> env(std::string_view name) const;
};

// Reads `unit`. Throws hgw::Error for a value that cannot be split.
GatewayUnit read_gateway_unit(const UnitFile& unit);

// "runs hermes-gatewayd", "runs a Hermes gateway (…)", "runs …": for messages.
std::string describe_exec(const GatewayUnit& unit);

} // namespace hgw::cli
