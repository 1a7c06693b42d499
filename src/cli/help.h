#pragma once
// The commands' descriptions and options, and the --help texts made from
// them: one table, so that what is parsed and what is documented agree.

#include "cli/arg_scanner.h"
#include "cli/bus_request.h"
#include "cli/command_line.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hgw::cli {

struct BusCommandInfo {
    std::string_view name; // "replace"
    BusVerb verb;
    std::string_view help;         // what it does, for --help and the command list
    std::string_view timeout_help; // what --timeout means for it
    std::span<const OptionSpec> extra_options;
    bool prints_progress = false; // replace, restart, start, stop
};

// pidfile's options (the same before and after the action), and its actions.
std::span<const OptionSpec> pidfile_options();
std::optional<PidfileAction> find_pidfile_action(std::string_view name);

std::span<const OptionSpec> migrate_options();

// The bus command called `name`, or nullptr.
const BusCommandInfo* find_bus_command(std::string_view name);

// Every option of a bus command: the common ones, --timeout, its own.
std::vector<OptionSpec> bus_command_options(const BusCommandInfo& info);

std::string top_help();
std::string pidfile_help();
std::string fleet_help();
std::string pidfile_action_help(PidfileAction action);
std::string bus_command_help(const BusCommandInfo& info);
std::string migrate_help();

} // namespace hgw::cli
