#include "cli/help.h"

#include "util/bus_names.h"

#include <array>

namespace hgw::cli {

namespace {

constexpr std::string_view kProgram = "hermes-gatewayctl";

constexpr std::string_view kExitCodes =
    "Exit codes of the bus commands:\n"
    "  0  success (status: running and ready)\n"
    "  1  failure (status: the gateway failed; wait-ready: timed out)\n"
    "  2  invalid arguments\n"
    "  3  the gateway is not running (status: stopped, waiting, foreign, auto-restart, or not ready yet)\n"
    "  4  hermes-gatewayd is not reachable on the bus\n"
    "  5  permission denied\n"
    "  6  busy: another operation is in progress\n"
    "  7  timed out\n"
    "  8  generation mismatch (--if-generation)\n"
    "  9  the gateway failed to start\n"
    "  10 refused, the running gateway left alone (replace, restart: a new gateway cannot start; fleet handover\n"
    "     --to: the host is not in line, or not next in time)\n";

constexpr std::string_view kPidfileSummary = "Inspect and repair the gateway's PID file (no daemon needed)";

constexpr std::array kPidfileOptions = {
    OptionSpec{"--home", "DIR", "Hermes home (default: $HERMES_HOME, else ~/.hermes)"},
    OptionSpec{"--json", "", "Print one JSON object"},
};

struct PidfileActionInfo {
    PidfileAction action;
    std::string_view name;
    std::string_view help;
};

constexpr std::array kPidfileActions = {
    PidfileActionInfo{PidfileAction::Show, "show", "Print the record as read (exit 0 record, 3 none, 4 corrupt or unsafe)"},
    PidfileActionInfo{PidfileAction::Check, "check",
                      "Judge the record (exit 0 live, 1 stale, 3 none, 4 corrupt or unsafe)"},
    PidfileActionInfo{PidfileAction::Clean, "clean",
                      "Remove a stale record under the lock (exit 0 done, 1 refused: live or busy, 4 unsafe)"},
};

constexpr std::string_view kMigrateSummary =
    "Move a gateway from the unit Hermes installed (hermes gateway install) to hermes-gatewayd's, or back";

constexpr std::array kMigrateOptions = {
    OptionSpec{"--user", "", "Hermes' user unit, in ~/.config/systemd/user (the default when not root)"},
    OptionSpec{"--system", "", "Hermes' system unit, in /etc/systemd/system (the default when root)"},
    OptionSpec{"--profile", "NAME",
               "The unit of this Hermes profile: hermes-gateway-NAME.service becomes hermes-gateway@NAME.service"},
    OptionSpec{"--dry-run", "", "Print what it would do, and do nothing"},
    OptionSpec{"--undo", "", "Go back: stop and disable ours, then put Hermes' unit back as it was"},
};

constexpr std::array kCommonBusOptions = {
    OptionSpec{"--system", "", "Use the system bus (the default when run as root)"},
    OptionSpec{"--user", "", "Use the user's session bus (the default when not root)"},
    OptionSpec{"--address", "ADDRESS", "Use the bus at this D-Bus address"},
    OptionSpec{"--profile", "NAME", "Talk to the daemon of this Hermes profile (bus name " HGW_BUS_NAME ".PROFILE)"},
    OptionSpec{"--json", "", "Print JSON"},
};

constexpr std::array kStartLikeOptions = {
    OptionSpec{"--reason", "TEXT", "Why: logged by the daemon and passed on in its signals"},
    OptionSpec{"--if-generation", "N", "Do it only if the gateway's generation is still N (else exit 8)"},
    OptionSpec{"--wait", "",
               "Wait until the new gateway is ready (always done: the command returns when the gateway is ready or "
               "the operation failed)"},
};
// stop: the same without --wait.
constexpr std::span<const OptionSpec> kStopOptions(kStartLikeOptions.data(), 2);

constexpr std::array kHandoverOptions = {
    kStartLikeOptions[0],
    kStartLikeOptions[1],
    OptionSpec{"--to", "HOST",
               "Hand over to this host (its --fleet-host name, by default its hostname): the hosts in line ahead of "
               "it step back first; refused (exit 10, the gateway here left running) if it is not in line or does "
               "not get next within 5s"},
};

constexpr std::array kWaitReadyOptions = {
    OptionSpec{"--newer-than", "N",
               "Wait for a gateway of a generation above N (e.g. the one that replaces a killed gateway)"},
};

constexpr std::string_view kLifecycleTimeout =
    "How long hermes-gatewayd may take (sent as timeout_usec); the command waits up to this plus 1min for its "
    "answer (default: the daemon's own limits, waiting up to 5min)";

const std::array kBusCommands = {
    BusCommandInfo{"status", BusVerb::Status,
                   "Show the gateway's state as hermes-gatewayd sees it (exit 0 running and ready, 1 failed, 3 stopped, "
                   "waiting, foreign or not ready yet, 4 no daemon)",
                   "How long to wait for the answer (default 25s)", {}},
    BusCommandInfo{"replace", BusVerb::Replace,
                   "Replace the running gateway: drain it, start a new one and wait until it is ready (if that fails, "
                   "a gateway is brought back)",
                   kLifecycleTimeout, kStartLikeOptions, true},
    BusCommandInfo{"restart", BusVerb::Restart, "Like replace, but also start a gateway that is stopped or failed",
                   kLifecycleTimeout, kStartLikeOptions, true},
    BusCommandInfo{"start", BusVerb::Start,
                   "Start the gateway and wait until it is ready (at once if it already runs)", kLifecycleTimeout,
                   kStartLikeOptions, true},
    BusCommandInfo{"stop", BusVerb::Stop,
                   "Stop the gateway and wait until it is gone; hermes-gatewayd keeps running", kLifecycleTimeout,
                   kStopOptions, true},
    BusCommandInfo{"fleet handover", BusVerb::FleetHandover,
                   "Fleet mode: on the leading host, stop the gateway, then give up the lease at once, so that the "
                   "next host in line (or the one --to names) starts its gateway without waiting for the lease to lapse",
                   kLifecycleTimeout, kHandoverOptions, true},
    BusCommandInfo{"wait-ready", BusVerb::WaitReady,
                   "Wait until the gateway is running and ready (exit 0 ready, 1 timed out, 4 no daemon)",
                   "How long to wait (default 5min)", kWaitReadyOptions},
    BusCommandInfo{"watch", BusVerb::Watch,
                   "Print the daemon's signals as they come, one line each (one JSON object each with --json), until "
                   "SIGINT or SIGTERM (exit 0)",
                   "Stop after this long (default: until interrupted)", {}},
};

constexpr std::size_t kWidth = 100;     // wrap help text here
constexpr std::size_t kHelpColumn = 28; // where option descriptions start

// `text` wrapped at kWidth, continuing a line already `indent` columns
// long; the lines it adds are indented as much.
std::string wrap(std::string_view text, std::size_t indent)
{
    std::string out;
    std::size_t column = indent;
    bool line_start = true;
    while (!text.empty()) {
        const std::size_t space = text.find(' ');
        const std::string_view word = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
        if (!line_start && column + 1 + word.size() > kWidth) {
            out += "\n" + std::string(indent, ' ');
            column = indent;
            line_start = true;
        }
        if (!line_start) {
            out += ' ';
            ++column;
        }
        out += word;
        column += word.size();
        line_start = false;
    }
    return out + "\n";
}

// "  --home DIR                Hermes home ...": one row of a two-column
// list; a left side too wide for its column gets a line of its own.
std::string row(std::string_view left, std::string_view help)
{
    std::string out = "  " + std::string(left);
    if (out.size() + 2 > kHelpColumn)
        out += "\n" + std::string(kHelpColumn, ' ');
    else
        out.resize(kHelpColumn, ' ');
    return out + wrap(help, kHelpColumn);
}

std::string options_section(std::span<const OptionSpec> options)
{
    std::string out = "Options:\n" + row("-h, --help", "Print this help and exit");
    for (const OptionSpec& o : options)
        out += row(o.value_name.empty() ? std::string(o.name) : std::string(o.name) + " " + std::string(o.value_name),
                   o.help);
    return out;
}

} // namespace

std::span<const OptionSpec> pidfile_options()
{
    return kPidfileOptions;
}

std::optional<PidfileAction> find_pidfile_action(std::string_view name)
{
    for (const PidfileActionInfo& a : kPidfileActions)
        if (a.name == name)
            return a.action;
    return std::nullopt;
}

std::span<const OptionSpec> migrate_options()
{
    return kMigrateOptions;
}

const BusCommandInfo* find_bus_command(std::string_view name)
{
    for (const BusCommandInfo& c : kBusCommands)
        if (c.name == name)
            return &c;
    return nullptr;
}

std::vector<OptionSpec> bus_command_options(const BusCommandInfo& info)
{
    std::vector<OptionSpec> all(kCommonBusOptions.begin(), kCommonBusOptions.end());
    all.push_back({"--timeout", "DURATION", info.timeout_help});
    all.insert(all.end(), info.extra_options.begin(), info.extra_options.end());
    return all;
}

std::string top_help()
{
    std::string out = std::string(kProgram) + ": inspect and control the Hermes gateway\n\n";
    out += "Usage: " + std::string(kProgram) + " COMMAND [OPTIONS]\n";
    out += "       " + std::string(kProgram) + " COMMAND --help\n";
    out += "       " + std::string(kProgram) + " --help | --version\n\n";
    out += "Commands:\n";
    out += row("pidfile show|check|clean", kPidfileSummary);
    out += row("migrate", kMigrateSummary);
    for (const BusCommandInfo& c : kBusCommands)
        out += row(c.name, c.help);
    out += "\nThe bus commands talk to hermes-gatewayd; pidfile and migrate work without it.\n\n";
    return out + std::string(kExitCodes);
}

std::string pidfile_help()
{
    std::string out = std::string(kPidfileSummary) + "\n\n";
    out += "Usage: " + std::string(kProgram) + " pidfile [OPTIONS] show|check|clean [OPTIONS]\n\n";
    out += "Actions:\n";
    for (const PidfileActionInfo& a : kPidfileActions)
        out += row(a.name, a.help);
    out += "\n" + options_section(kPidfileOptions);
    return out + "\nThe options may come before or after the action.\n";
}

std::string pidfile_action_help(PidfileAction action)
{
    for (const PidfileActionInfo& a : kPidfileActions) {
        if (a.action != action)
            continue;
        std::string out = std::string(a.help) + "\n\n";
        out += "Usage: " + std::string(kProgram) + " pidfile " + std::string(a.name) + " [OPTIONS]\n\n";
        return out + options_section(kPidfileOptions);
    }
    return pidfile_help();
}

std::string bus_command_help(const BusCommandInfo& info)
{
    std::string out = wrap(info.help, 0) + "\n";
    out += "Usage: " + std::string(kProgram) + " " + std::string(info.name) + " [OPTIONS]\n\n";
    out += options_section(bus_command_options(info));
    out += "\n--system, --user and --address exclude each other; without them, root uses the system bus and\n"
           "others their session bus.\n";
    if (info.prints_progress)
        out += "Progress (the daemon's signals) is printed as it happens, unless --json.\n";
    return out + "\n" + std::string(kExitCodes);
}

// `fleet`: one action so far, handover, with the bus options before or
// after it, as pidfile's.
std::string fleet_help()
{
    const BusCommandInfo& handover = *find_bus_command("fleet handover");
    std::string out = "Fleet mode (one gateway per bot across hosts, elected on etcd): act on this host's place in "
                      "its fleet.\n\n";
    out += "Usage: " + std::string(kProgram) + " fleet [OPTIONS] handover [--to HOST] [OPTIONS]\n\n";
    out += "Actions:\n";
    out += row("handover", handover.help);
    out += "\n" + options_section(bus_command_options(handover));
    return out + "\nThe options may come before or after the action.\n\n" + std::string(kExitCodes);
}

std::string migrate_help()
{
    std::string out = wrap(kMigrateSummary, 0) + "\n";
    out += "Usage: " + std::string(kProgram) + " migrate [--user|--system] [--profile NAME] [--dry-run] [--undo]\n\n";
    out += wrap("It finds Hermes' unit (hermes-gateway.service, or hermes-gateway-NAME.service for a profile), prints "
                "what it will do, and then: keeps a copy of it for --undo; gives hermes-gatewayd's unit what Hermes' "
                "unit gave its gateway (its command in gatewayd.conf, its environment in a drop-in); stops Hermes' "
                "unit and waits until it is down, disables it and removes its file (so that it no longer shadows "
                "ours); then enables and starts ours, if Hermes' was enabled and running. Only one gateway runs at "
                "any time; it is down from the stop until ours is ready. If a step fails, Hermes' unit is put back.",
                0);
    out += "\n" + options_section(kMigrateOptions);
    out += "\nExit codes: 0 done (or --dry-run printed), 1 refused or failed (the message says why), 2 invalid "
           "arguments.\n";
    return out;
}

} // namespace hgw::cli
