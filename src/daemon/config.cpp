// hermes-gatewayd's configuration: command-line flags over a configuration file.
//
// The configuration file is in CLI11's TOML-like format (see packaging/gatewayd.conf):
//
//   - one `key = value` per line; the keys are the long flag names without
//     their "--" (`drain-timeout = 30s`, `home = "/srv/hermes"`); an optional
//     `[default]` header, no other sections; an unknown key is an error;
//   - a value with spaces or commas must be quoted, else CLI11 splits it;
//   - `#` or `;` at the start of a line is a comment, and CLI11 also cuts a
//     value at its first `#`, even inside quotes;
//   - flags are `true`/`false`: `user = true`, `write-pidfile = true`;
//   - lists are arrays, one element per value: `env = ["LANG=C.UTF-8", "A=b"]`
//     (an array may span several lines);
//   - the gateway's command is the key `command`, an array with one element
//     per argument: `command = ["/usr/bin/hermes", "gateway", "run"]`.
//     Quote elements that contain spaces or commas. (CLI11 also splits an
//     unbracketed value at spaces or commas, so `command = hermes gateway run`
//     works too, but the array is the documented form.)
//
// The file is /etc/hermes/gatewayd.conf when running as root, else
// ${XDG_CONFIG_HOME:-~/.config}/hermes/gatewayd.conf; a missing default file
// is fine, one that exists but cannot be read is an error. `--config FILE`
// names another (which must exist); `--config ''` reads none. (`--config=`
// does not work for that: CLI11 then takes the next argument as the value.)
//
// A value given on the command line replaces the file's value for that key;
// for a list (env, command) the whole list is replaced, not merged. At most one
// of system/user/address takes effect: the command line's choice, else the file's.

#include "daemon/config.h"

#include "core/gateway_cmdline.h"
#include "core/home.h"
#include "util/bus_names.h"
#include "util/errors.h"

#include <CLI/CLI.hpp>

#include <grp.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string_view>

namespace hgw::daemon {

namespace {

constexpr const char* kVersion = "hermes-gatewayd 0.1.0";
constexpr const char* kHelpHint = "see hermes-gatewayd --help";
constexpr const char* kFileHint =
    "keys are the long flag names of hermes-gatewayd --help without their '--' (e.g. drain-timeout = 30s), "
    "in no section or [default]";

// A timeout flag, the Config field it sets, and whether 0 is meaningful.
struct DurationFlag {
    const char* name;
    microseconds Config::*field;
    bool zero_allowed;
    const char* help;
};

constexpr std::array<DurationFlag, 9> kDurationFlags{{
    {"ready-timeout", &Config::ready_timeout, false, "Start to ready, else the start failed"},
    {"ready-grace", &Config::ready_grace, false, "Alive this long counts as ready (--readiness grace)"},
    {"drain-timeout", &Config::drain_timeout, false, "SIGUSR1 to exit, else SIGTERM"},
    {"stop-timeout", &Config::stop_timeout, false, "SIGTERM to exit, else SIGKILL"},
    {"kill-timeout", &Config::kill_timeout, false, "SIGKILL to exit, else give up"},
    {"child-watchdog", &Config::child_watchdog, true, "WATCHDOG_USEC for the gateway; 0: none"},
    {"restart-delay", &Config::restart_delay, false, "First back-off after a crash"},
    {"restart-delay-max", &Config::restart_delay_max, false, "The back-off doubles up to this"},
    {"burst-window", &Config::burst_window, false, "This many crashes (--burst) within it: failed"},
}};

// Flag values as text, so that every conversion error names its flag.
struct RawOptions {
    std::vector<std::string> command;
    std::vector<std::string> env;
    std::string working_directory;
    std::string home;
    std::string profile;
    bool write_pidfile = false;
    std::string readiness;
    bool system = false;
    bool user = false;
    std::string address;
    std::string allowed_group;
    std::map<std::string, std::string> durations; // flag name -> text
    std::string burst;
    bool exit_on_failure = false;
    std::string notify_socket;
    std::string log_target;
    std::string log_level;
    std::string fleet_endpoints, fleet_name, fleet_host, fleet_ttl, fleet_clock_error;
    std::string fleet_ca, fleet_cert, fleet_key, fleet_user, fleet_password_file;
    std::string config_file; // first pass only
};

std::string trim(std::string_view s)
{
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos)
        return {};
    auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

// "30s", "500ms", "2min": the shortest exact spelling, for --help.
std::string format_duration(microseconds d)
{
    struct Unit {
        std::int64_t usec;
        const char* suffix;
    };
    static constexpr Unit units[] = {
        {3'600'000'000, "h"}, {60'000'000, "min"}, {1'000'000, "s"}, {1'000, "ms"}, {1, "us"}};
    if (d.count() == 0)
        return "0";
    for (const Unit& u : units)
        if (d.count() % u.usec == 0)
            return std::to_string(d.count() / u.usec) + u.suffix;
    return std::to_string(d.count()) + "us";
}

// /etc for root, the XDG config directory for everyone else.
std::string default_config_file()
{
    if (::geteuid() == 0)
        return "/etc/hermes/gatewayd.conf";
    return (xdg_dir("XDG_CONFIG_HOME", ".config") / "hermes" / "gatewayd.conf").string();
}

// Every option, bound to `raw`. Both parsing passes declare the same set.
void declare_options(CLI::App& app, RawOptions& raw)
{
    app.get_help_ptr()->configurable(false);
    app.set_version_flag("--version", kVersion)->configurable(false);
    app.allow_config_extras(CLI::config_extras_mode::error);

    const Config defaults;
    app.add_option("--home", raw.home, "Hermes home of the gateway (default: $HERMES_HOME, else ~/.hermes)");
    app.add_option("--profile", raw.profile, "Hermes profile; names the bus name " HGW_BUS_NAME ".<profile>");
    app.add_option("--working-directory", raw.working_directory, "Working directory of the gateway");
    app.add_option("--env", raw.env, "KEY=VALUE added to the gateway's environment (repeatable)")
        ->allow_extra_args(false);
    app.add_flag("--write-pidfile,!--no-write-pidfile", raw.write_pidfile,
                 "Write the PID record and hold the lock for a gateway that does neither itself");
    app.add_option("--readiness", raw.readiness, "When a started gateway is ready: notify, pidfile or grace")
        ->default_str("pidfile");

    app.add_flag("--system", raw.system, "Serve on the system bus (default)");
    app.add_flag("--user", raw.user, "Serve on the user's session bus");
    app.add_option("--address", raw.address, "Serve on the bus at this D-Bus address");
    app.add_option("--allowed-group", raw.allowed_group,
                   "Group whose members may start, stop and restart the gateway");

    for (const DurationFlag& f : kDurationFlags) {
        app.add_option(std::string("--") + f.name, raw.durations[f.name], f.help)
            ->default_str(format_duration(defaults.*f.field));
    }
    app.add_option("--burst", raw.burst, "Crashes within --burst-window that enter the failed state")
        ->default_str(std::to_string(defaults.burst));
    app.add_flag("--exit-on-failure,!--no-exit-on-failure", raw.exit_on_failure,
                 "In the failed state, exit (78 after the gateway's configuration error, else 1) "
                 "and let the service manager restart or give up");

    app.add_option("--notify-socket", raw.notify_socket,
                   "Address of the gateway's NOTIFY_SOCKET: @abstract-name or /absolute/path "
                   "(default: an abstract name of our own)");
    app.add_option("--log-target", raw.log_target, "auto, journal or stderr")->default_str(defaults.log_target);
    app.add_option("--log-level", raw.log_level, "debug, info, warning or error")->default_str(defaults.log_level);

    app.add_option("--fleet-endpoints", raw.fleet_endpoints,
                   "Fleet mode: etcd's client URLs (comma-separated); only the elected host runs the gateway");
    app.add_option("--fleet-name", raw.fleet_name, "Fleet mode: the bot's name, the same on every host of the fleet");
    app.add_option("--fleet-host", raw.fleet_host,
                   "Fleet mode: the name this host stands as, shown to the others and named by fleet handover --to "
                   "(default: its hostname)");
    app.add_option("--fleet-ttl", raw.fleet_ttl, "Fleet mode: the lease's time to live, renewed every third of it")
        ->default_str(format_duration(defaults.fleet.ttl));
    app.add_option("--fleet-clock-error", raw.fleet_clock_error,
                   "Fleet mode: the most two hosts' clocks may differ in rate (0.01: 1%)")
        ->default_str("0.01");
    app.add_option("--fleet-cacert", raw.fleet_ca, "Fleet mode: the CA that signed etcd's certificate");
    app.add_option("--fleet-cert", raw.fleet_cert, "Fleet mode: our TLS client certificate for etcd");
    app.add_option("--fleet-key", raw.fleet_key, "Fleet mode: the key of --fleet-cert");
    app.add_option("--fleet-user", raw.fleet_user, "Fleet mode: etcd user (with --fleet-password-file)");
    app.add_option("--fleet-password-file", raw.fleet_password_file, "Fleet mode: a file holding --fleet-user's password");

    app.add_option("command", raw.command,
                   "The gateway's command line, after '--' (default: hermes gateway run)");
}

bool given(const CLI::App& app, const std::string& name) { return app.count(name) > 0; }

std::vector<std::string> convert_command(const CLI::App& app, const RawOptions& raw)
{
    if (!given(app, "command"))
        return {"hermes", "gateway", "run"};
    if (raw.command.empty() || raw.command.front().empty())
        throw Error("the gateway command is empty",
                    "give it after '--' (hermes-gatewayd -- /usr/bin/hermes gateway run) or as "
                    "command = [\"/usr/bin/hermes\", \"gateway\", \"run\"] in the config file");
    return raw.command;
}

bool valid_env_name(std::string_view name)
{
    if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (char c : name) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

std::map<std::string, std::string> convert_env(const std::vector<std::string>& pairs)
{
    std::map<std::string, std::string> env;
    for (const std::string& pair : pairs) {
        auto eq = pair.find('=');
        std::string name = pair.substr(0, eq);
        if (eq == std::string::npos || !valid_env_name(name))
            throw Error("--env '" + pair + "' is not KEY=VALUE with a valid variable name",
                        "write it as NAME=value, NAME made of letters, digits and '_'");
        env[name] = pair.substr(eq + 1); // the last one given wins, as in a shell
    }
    return env;
}


Readiness convert_readiness(const std::string& text)
{
    if (text == "notify")
        return Readiness::Notify;
    if (text == "pidfile")
        return Readiness::PidFile;
    if (text == "grace")
        return Readiness::Grace;
    throw Error("--readiness '" + text + "' is not a readiness mode", "use notify, pidfile or grace");
}

// The bus flags as one parse saw them.
struct BusChoice {
    bool system;
    bool user;
    bool address;
    std::string address_value;
    [[nodiscard]] int count() const { return int(system) + int(user) + int(address); }
};

BusChoice bus_choice(const CLI::App& app, const RawOptions& raw)
{
    return {raw.system, raw.user, given(app, "--address"), raw.address};
}

// One of --system/--user/--address: the command line's choice wins over the file's.
void convert_bus(const BusChoice& cli, const BusChoice& merged, Config& c)
{
    if (cli.count() > 1)
        throw Error("--system, --user and --address exclude each other", "give only one of them");
    if (cli.count() == 0 && merged.count() > 1)
        throw Error("the config file sets more than one of system, user and address",
                    "keep only one of them in the file");
    const BusChoice& chosen = cli.count() == 1 ? cli : merged;
    if (chosen.user) {
        c.bus = BusKind::User;
    } else if (chosen.address) {
        if (chosen.address_value.empty())
            throw Error("--address is empty", "give a D-Bus address such as unix:path=/run/hermes/bus");
        c.bus = BusKind::Address;
        c.bus_address = chosen.address_value;
    } else {
        c.bus = BusKind::System;
    }
}

gid_t resolve_group(const std::string& name)
{
    if (const group* g = ::getgrnam(name.c_str()))
        return g->gr_gid;
    // A numeric gid is accepted when such a group exists.
    gid_t gid = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), gid);
    if (ec == std::errc() && end == name.data() + name.size())
        if (const group* g = ::getgrgid(gid))
            return g->gr_gid;
    throw Error("--allowed-group: no group named '" + name + "'",
                "create the group (groupadd " + name + ") or name an existing one");
}

unsigned convert_burst(const std::string& text)
{
    unsigned value = 0;
    std::string t = trim(text);
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size() || value < 1 || value > 1'000'000)
        throw Error("--burst '" + text + "' is not a whole number from 1 to 1000000",
                    "give how many crashes within --burst-window mean the gateway is failing, e.g. 5");
    return value;
}

void check_notify_address(const std::string& address)
{
    constexpr std::size_t max_path = sizeof(sockaddr_un::sun_path) - 1; // room for the NUL / leading 0
    if (address.empty())
        return;
    if (address[0] == '@') {
        if (address.size() == 1 || address.size() - 1 > max_path)
            throw Error("--notify-socket '" + address + "': an abstract name must have 1 to " +
                            std::to_string(max_path) + " characters after '@'",
                        "use e.g. @hermes-gatewayd/notify, or leave it empty for a name of our own");
        return;
    }
    if (address[0] != '/')
        throw Error("--notify-socket '" + address + "' is neither @abstract-name nor an absolute path",
                    "a relative path would differ for a gateway with another working directory");
    if (address.size() > max_path)
        throw Error("--notify-socket '" + address + "' is longer than a socket path may be (" +
                        std::to_string(max_path) + " bytes)",
                    "use a shorter path or an abstract name (@name)");
}

std::string convert_log_level(const std::string& text)
{
    if (text == "warn")
        return "warning";
    if (text == "debug" || text == "info" || text == "warning" || text == "error")
        return text;
    throw Error("--log-level '" + text + "' is not a log level", "use debug, info, warning or error");
}

// Checks that relate several fields.
void check_consistency(const Config& c)
{
    if (c.restart_delay_max < c.restart_delay)
        throw Error("--restart-delay-max (" + format_duration(c.restart_delay_max) +
                        ") is shorter than --restart-delay (" + format_duration(c.restart_delay) + ")",
                    "the back-off starts at --restart-delay and doubles up to --restart-delay-max");
    if (c.readiness == Readiness::Grace && c.ready_grace >= c.ready_timeout)
        throw Error("--ready-grace (" + format_duration(c.ready_grace) + ") is not shorter than --ready-timeout (" +
                        format_duration(c.ready_timeout) + "), so a start could never succeed",
                    "lower --ready-grace or raise --ready-timeout");
    // Hermes' own status check believes a record only if the live command
    // line of the process it names is a gateway's, and otherwise deletes
    // gateway.pid and the held gateway.lock: a second gateway could start.
    if (c.write_pidfile && !looks_like_gateway(c.command)) {
        std::string command;
        for (const std::string& arg : c.command)
            command += (command.empty() ? "" : " ") + arg;
        throw Error("--write-pidfile: Hermes would not recognise '" + command +
                        "' as a gateway, so its status check (hermes status, every hermes gateway run) would "
                        "delete the record and the lock the daemon keeps for it",
                    "Hermes recognises `hermes [...] gateway run` (or `restart`), `.../gateway/run.py` and an "
                    "executable named `hermes-gateway`: start yours through `hermes gateway run`, or name (or "
                    "link) its executable `hermes-gateway`");
    }
}

std::vector<std::string> split_endpoints(const std::string& text)
{
    std::vector<std::string> out;
    std::string::size_type at = 0;
    while (at <= text.size()) {
        const auto comma = text.find(',', at);
        std::string one = trim(text.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (!one.empty()) {
            if (one.rfind("http://", 0) != 0 && one.rfind("https://", 0) != 0)
                throw Error("--fleet-endpoints: '" + one + "' is not an http:// or https:// URL",
                            "give etcd's client URLs, such as http://10.0.0.1:2379");
            while (!one.empty() && one.back() == '/')
                one.pop_back();
            out.push_back(one);
        }
        if (comma == std::string::npos)
            break;
        at = comma + 1;
    }
    return out;
}

FleetConfig convert_fleet(const CLI::App& app, const RawOptions& raw, const Config& c)
{
    FleetConfig f;
    const bool any = given(app, "--fleet-name") || given(app, "--fleet-host") || given(app, "--fleet-ttl") ||
                     given(app, "--fleet-clock-error") ||
                     given(app, "--fleet-cacert") || given(app, "--fleet-cert") || given(app, "--fleet-key") ||
                     given(app, "--fleet-user") || given(app, "--fleet-password-file");
    if (!given(app, "--fleet-endpoints")) {
        if (any)
            throw Error("fleet options without --fleet-endpoints", "give etcd's client URLs, or drop the fleet options");
        return f;
    }
    f.endpoints = split_endpoints(raw.fleet_endpoints);
    if (f.endpoints.empty())
        throw Error("--fleet-endpoints names no URL", "give etcd's client URLs, such as http://10.0.0.1:2379");
    f.name = raw.fleet_name.empty() ? (c.profile.empty() ? "default" : c.profile) : raw.fleet_name;
    if (!is_valid_profile_name(f.name))
        throw Error("--fleet-name '" + f.name + "' is not a valid name",
                    "use 1 to 64 characters: lowercase letters, digits, '_' and '-', starting with a letter or digit");
    if (given(app, "--fleet-host") && raw.fleet_host.empty())
        throw Error("--fleet-host is empty", "name this host, or leave the option out for its hostname");
    f.host = raw.fleet_host;
    if (given(app, "--fleet-ttl")) {
        try {
            f.ttl = parse_duration(raw.fleet_ttl);
        } catch (const Error& e) {
            throw Error("--fleet-ttl: " + std::string(e.what()), e.hint());
        }
        if (f.ttl.count() % 1'000'000 != 0)
            throw Error("--fleet-ttl " + raw.fleet_ttl + " is not whole seconds", "etcd's leases count whole seconds");
    }
    if (given(app, "--fleet-clock-error")) {
        std::size_t used = 0;
        try {
            f.clock_rate_error = std::stod(raw.fleet_clock_error, &used);
        } catch (const std::logic_error&) {
            used = 0;
        }
        if (used != raw.fleet_clock_error.size() || raw.fleet_clock_error.empty())
            throw Error("--fleet-clock-error '" + raw.fleet_clock_error + "' is not a number", "give a fraction such as 0.01");
    }
    f.ca_file = raw.fleet_ca;
    f.cert_file = raw.fleet_cert;
    f.key_file = raw.fleet_key;
    if (f.cert_file.empty() != f.key_file.empty())
        throw Error("--fleet-cert and --fleet-key go together", "give both, or neither");
    f.user = raw.fleet_user;
    f.password_file = raw.fleet_password_file;
    if (f.user.empty() != f.password_file.empty())
        throw Error("--fleet-user and --fleet-password-file go together", "give both, or neither");
    return f;
}

Config to_config(const CLI::App& app, const RawOptions& raw, const CLI::App& cli_app, const RawOptions& cli)
{
    Config c;
    c.command = convert_command(app, raw);
    c.environment = convert_env(raw.env);
    c.working_directory = raw.working_directory;
    // As Hermes: a profile's home is <root>/profiles/<name> unless given.
    if (!raw.home.empty())
        c.hermes_home = raw.home;
    else if (!raw.profile.empty())
        c.hermes_home = profile_home(default_home(), raw.profile);
    else
        c.hermes_home = default_home();
    if (!raw.profile.empty() && !is_valid_profile_name(raw.profile))
        throw Error("--profile '" + raw.profile + "' is not a valid Hermes profile name",
                    "use 1 to 64 characters: lowercase letters, digits, '_' and '-', starting with a letter or digit");
    c.profile = raw.profile;
    c.write_pidfile = raw.write_pidfile;
    c.exit_on_failure = raw.exit_on_failure;
    if (given(app, "--readiness"))
        c.readiness = convert_readiness(raw.readiness);
    convert_bus(bus_choice(cli_app, cli), bus_choice(app, raw), c);
    if (given(app, "--allowed-group"))
        c.allowed_group = resolve_group(raw.allowed_group);

    for (const DurationFlag& f : kDurationFlags) {
        if (!given(app, std::string("--") + f.name))
            continue;
        microseconds d;
        try {
            d = parse_duration(raw.durations.at(f.name));
        } catch (const Error& e) {
            throw Error(std::string("--") + f.name + ": " + e.what(), e.hint());
        }
        if (d.count() == 0 && !f.zero_allowed)
            throw Error(std::string("--") + f.name + " must be longer than 0", "give a duration such as 10s");
        c.*f.field = d;
    }
    if (given(app, "--burst"))
        c.burst = convert_burst(raw.burst);

    check_notify_address(raw.notify_socket);
    c.notify_socket = raw.notify_socket;
    if (given(app, "--log-target")) {
        if (raw.log_target != "auto" && raw.log_target != "journal" && raw.log_target != "stderr")
            throw Error("--log-target '" + raw.log_target + "' is not a log target", "use auto, journal or stderr");
        c.log_target = raw.log_target;
    }
    if (given(app, "--log-level"))
        c.log_level = convert_log_level(raw.log_level);

    c.fleet = convert_fleet(app, raw, c);
    check_consistency(c);
    return c;
}

// CLI11 words an unknown key as "INI was not able to parse <key>", and a
// section [name] as the key "name.++".
std::string describe_config_error(const std::string& what)
{
    const std::string prefix = "INI was not able to parse ";
    if (what.rfind(prefix, 0) != 0)
        return what;
    std::string key = what.substr(prefix.size());
    const std::string section_mark = ".++";
    if (key.size() > section_mark.size() && key.ends_with(section_mark))
        return "unknown section [" + key.substr(0, key.size() - section_mark.size()) + "]";
    return "unknown key '" + key + "'";
}

// CLI11 silently skips a default file it cannot read; a file that exists
// but is unreadable is a mistake worth reporting.
void check_default_file_readable(const std::string& path)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return;
    if (!std::ifstream(path))
        throw Error("cannot read the config file " + path, "fix its permissions, or pass --config ''");
}

} // namespace

std::string Config::bus_name() const
{
    return bus_name_for_profile(profile);
}

std::optional<Config> load_config(int argc, char** argv)
{
    const std::string default_file = default_config_file();

    // Pass 1, the command line alone: --help/--version, command-line errors,
    // the config file's name, and which bus the command line chose (CLI11
    // cannot tell afterwards whether a value came from the file).
    RawOptions cli;
    CLI::App cli_app{"hermes-gatewayd: supervises the Hermes gateway", "hermes-gatewayd"};
    declare_options(cli_app, cli);
    cli_app.add_option("--config", cli.config_file, "Configuration file ('' for none)")->default_str(default_file);
    try {
        cli_app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        cli_app.exit(e); // prints the help or the version
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        throw Error(std::string("invalid command line: ") + e.what(), kHelpHint);
    }
    const bool file_named = given(cli_app, "--config");
    const std::string file = file_named ? cli.config_file : default_file;
    if (!file_named)
        check_default_file_readable(file);

    // Pass 2: the same flags over the file's values.
    RawOptions merged;
    CLI::App app{"hermes-gatewayd", "hermes-gatewayd"};
    declare_options(app, merged);
    app.set_config("--config", default_file, "Configuration file");
    try {
        app.parse(argc, argv);
    } catch (const CLI::FileError&) {
        throw Error("cannot read the config file '" + file + "'", "check the path given to --config");
    } catch (const CLI::ConfigError& e) {
        throw Error("config file " + file + ": " + describe_config_error(e.what()), kFileHint);
    } catch (const CLI::ParseError& e) {
        throw Error("config file " + file + ": " + e.what(), kFileHint);
    }
    return to_config(app, merged, cli_app, cli);
}

} // namespace hgw::daemon
