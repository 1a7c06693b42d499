#include "cli/command_line.h"

#include "cli/arg_scanner.h"
#include "cli/help.h"
#include "core/profile.h"
#include "util/bus_names.h"
#include "util/duration.h"
#include "util/errors.h"

#include <unistd.h>

#include <charconv>

namespace hgw::cli {

namespace {

// ---- pidfile

// `pidfile [--home DIR] [--json] ACTION [--home DIR] [--json]`: the options
// may come before or after the action.
Invocation parse_pidfile(std::span<char* const> args)
{
    ScannedArgs s = scan_args(args, pidfile_options(), "pidfile");
    std::optional<PidfileAction> action = s.words.empty() ? std::nullopt : find_pidfile_action(s.words.front());
    if (s.help)
        return HelpRequest{action ? pidfile_action_help(*action) : pidfile_help()};
    if (s.words.empty())
        throw UsageError("pidfile needs an action: show, check or clean");
    if (!action)
        throw UsageError("unknown pidfile action '" + s.words.front() + "' (use show, check or clean)");
    if (s.words.size() > 1)
        throw UsageError("unexpected argument '" + s.words[1] + "' after 'pidfile " + s.words.front() + "'");
    PidfileRequest r;
    r.action = *action;
    if (const std::string* home = s.value("--home"))
        r.home = *home;
    r.json = s.flag("--json");
    return r;
}

// ---- migrate

Invocation parse_migrate(std::span<char* const> args)
{
    ScannedArgs s = scan_args(args, migrate_options(), "migrate");
    if (s.help)
        return HelpRequest{migrate_help()};
    if (!s.words.empty())
        throw UsageError("unexpected argument '" + s.words.front() + "' after 'migrate'");
    if (s.flag("--system") && s.flag("--user"))
        throw UsageError("--system and --user exclude each other: give one");
    MigrateRequest r;
    // Like systemctl: root moves the system's unit, users their own.
    r.system = s.flag("--system") || (!s.flag("--user") && geteuid() == 0);
    if (const std::string* profile = s.value("--profile")) {
        if (!is_valid_profile_name(*profile))
            throw UsageError("invalid profile name '" + *profile +
                             "' (1 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit)");
        r.profile = *profile;
    }
    r.dry_run = s.flag("--dry-run");
    r.undo = s.flag("--undo");
    return r;
}

// ---- the bus commands

std::chrono::microseconds duration_value(const std::string& text)
{
    try {
        return parse_duration(text);
    } catch (const Error& e) {
        throw UsageError("--timeout: " + describe(e));
    }
}

std::uint64_t count_value(std::string_view option, const std::string& text)
{
    std::uint64_t n = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec == std::errc::invalid_argument || ptr != end)
        throw UsageError(std::string(option) + " needs a whole number, not '" + text + "'");
    if (ec == std::errc::result_out_of_range)
        throw UsageError(std::string(option) + " " + text + " is too large");
    return n;
}

BusTarget target_of(const ScannedArgs& s)
{
    // A flag given as --system=false chooses nothing.
    const int buses = (s.flag("--system") ? 1 : 0) + (s.flag("--user") ? 1 : 0) + (s.given("--address") ? 1 : 0);
    if (buses > 1)
        throw UsageError("--system, --user and --address exclude each other: give one");

    BusTarget t;
    if (const std::string* address = s.value("--address")) {
        if (address->empty())
            throw UsageError("empty --address (give a D-Bus address such as unix:path=/run/dbus/system_bus_socket)");
        t.kind = BusKind::Address;
        t.address = *address;
    } else if (s.flag("--system")) {
        t.kind = BusKind::System;
    } else if (s.flag("--user")) {
        t.kind = BusKind::User;
    } else {
        // Like systemctl: root manages the system instance, users their own.
        t.kind = geteuid() == 0 ? BusKind::System : BusKind::User;
    }
    if (const std::string* profile = s.value("--profile")) {
        if (profile->empty())
            throw UsageError("empty --profile (leave it out for the default daemon, " HGW_BUS_NAME ")");
        try {
            t.bus_name = bus_name_for_profile(*profile);
        } catch (const Error& e) {
            throw UsageError(describe(e));
        }
    } else {
        t.bus_name = HGW_BUS_NAME;
    }
    return t;
}

Invocation parse_bus_command(const BusCommandInfo& info, std::span<char* const> args)
{
    const std::vector<OptionSpec> specs = bus_command_options(info);
    ScannedArgs s = scan_args(args, specs, info.name);
    if (s.help)
        return HelpRequest{bus_command_help(info)};
    if (!s.words.empty())
        throw UsageError("unexpected argument '" + s.words.front() + "' after '" + std::string(info.name) + "'");

    BusRequest r;
    r.verb = info.verb;
    r.target = target_of(s);
    r.json = s.flag("--json");
    if (const std::string* t = s.value("--timeout"))
        r.timeout = duration_value(*t);
    if (const std::string* reason = s.value("--reason"))
        r.reason = *reason;
    if (const std::string* g = s.value("--if-generation"))
        r.if_generation = count_value("--if-generation", *g);
    if (const std::string* n = s.value("--newer-than"))
        r.newer_than = count_value("--newer-than", *n);
    if (const std::string* to = s.value("--to")) {
        if (to->empty())
            throw UsageError("empty --to (name a host in line, or leave it out for the next one in line)");
        r.to = *to;
    }
    // --wait is accepted and changes nothing: these commands always wait.
    return r;
}

// `fleet [OPTIONS] handover [OPTIONS]`: the action may come anywhere among
// the options, as pidfile's. Handover is the only action so far.
Invocation parse_fleet(std::span<char* const> args)
{
    std::vector<char*> rest;
    bool handover = false, help = false;
    for (char* arg : args) {
        const std::string_view a(arg);
        if (a == "handover" && !handover)
            handover = true;
        else
            rest.push_back(arg);
        help |= a == "-h" || a == "--help";
    }
    if (!handover) {
        if (help)
            return HelpRequest{fleet_help()};
        for (char* arg : rest)
            if (arg[0] != '-')
                throw UsageError("fleet: unknown action '" + std::string(arg) + "' (the action is handover)");
        throw UsageError("fleet: no action given (the action is handover)");
    }
    return parse_bus_command(*find_bus_command("fleet handover"), rest);
}

std::string help_hint(std::string_view command)
{
    return "Run 'hermes-gatewayctl" + (command.empty() ? std::string() : " " + std::string(command)) +
           " --help' for usage.";
}

} // namespace

Invocation parse_command_line(int argc, char** argv)
{
    std::span<char* const> args(argv + (argc > 0 ? 1 : 0), argc > 0 ? static_cast<std::size_t>(argc - 1) : 0);
    if (args.empty())
        return UsageFailure{"no command given", help_hint("")};
    const std::string_view command = args.front();
    if (command == "-h" || command == "--help")
        return HelpRequest{top_help()};
    if (command == "--version")
        return VersionRequest{};
    if (command.starts_with("-"))
        return UsageFailure{"unknown option '" + std::string(command) + "': options go after the command",
                            help_hint("")};
    try {
        if (command == "pidfile")
            return parse_pidfile(args.subspan(1));
        if (command == "migrate")
            return parse_migrate(args.subspan(1));
        if (command == "fleet")
            return parse_fleet(args.subspan(1));
        if (const BusCommandInfo* info = find_bus_command(command))
            return parse_bus_command(*info, args.subspan(1));
    } catch (const UsageError& e) {
        return UsageFailure{e.what(), help_hint(command)};
    }
    return UsageFailure{"unknown command '" + std::string(command) + "'", help_hint("")};
}

} // namespace hgw::cli
