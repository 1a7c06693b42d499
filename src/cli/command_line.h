#pragma once
// The grammar of hermes-gatewayctl: which commands exist, their options, and
// what a command line asks for. Nothing here touches the bus or the home.

#include "cli/bus_request.h"

#include <optional>
#include <string>
#include <variant>

namespace hgw::cli {

enum class PidfileAction { Show, Check, Clean };

struct PidfileRequest {
    PidfileAction action = PidfileAction::Check;
    std::optional<std::string> home; // --home, perhaps empty (an error the command reports)
    bool json = false;
};

// `migrate [--user|--system] [--profile P] [--dry-run] [--undo]`.
struct MigrateRequest {
    bool system = false;  // --system, or root without --user
    std::string profile;  // "" for the default unit; a valid profile name otherwise
    bool dry_run = false;
    bool undo = false;
};

// --help anywhere: print this and exit 0.
struct HelpRequest {
    std::string text;
};

struct VersionRequest {};

// A command line that cannot run: print the message and the hint, exit 2.
struct UsageFailure {
    std::string message;
    std::string hint; // "Run 'hermes-gatewayctl replace --help' for its options."
};

using Invocation =
    std::variant<HelpRequest, VersionRequest, UsageFailure, PidfileRequest, MigrateRequest, BusRequest>;

Invocation parse_command_line(int argc, char** argv);

} // namespace hgw::cli
