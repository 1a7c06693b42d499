#include "cli/migrate/plan.h"

#include "cli/units/unit_file.h"
#include "util/bus_names.h"
#include "util/errors.h"

#include <pwd.h>

namespace hgw::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kServiceAccount = "hermes"; // what the system units run as

std::string trim(std::string_view s)
{
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos)
        return {};
    return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

bool is_command_key(std::string_view line)
{
    std::string t = trim(line);
    if (!t.starts_with("command"))
        return false;
    std::string rest = trim(std::string_view(t).substr(7));
    return rest.starts_with("=");
}

// gatewayd.conf with `line` added, or nothing if it already says so.
std::optional<std::string> config_with(const std::optional<std::string>& current, const std::string& line,
                                       const fs::path& file, const fs::path& from)
{
    std::string text = current.value_or("");
    std::size_t start = 0, number = 1;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        const std::string_view l = std::string_view(text).substr(start, nl == std::string::npos ? nl : nl - start);
        if (is_command_key(l)) {
            if (trim(l) == line)
                return std::nullopt;
            throw Error(file.string() + " line " + std::to_string(number) + " already names another gateway command (" +
                            trim(l) + ")",
                        "to run what Hermes' unit runs, make that line: " + line);
        }
        if (nl == std::string::npos)
            break;
        start = nl + 1;
        ++number;
    }
    if (!text.empty() && text.back() != '\n')
        text += '\n';
    return text + "\n# The gateway command of Hermes' own unit " + from.string() +
           ",\n# added by hermes-gatewayctl migrate (migrate --undo takes it out).\n" + line + "\n";
}

// The home Hermes' unit gives its gateway; for a profile, the root our
// template's daemon needs in HERMES_HOME to find the same home.
struct Homes {
    std::optional<std::string> root_env; // HERMES_HOME for our unit, if any
    fs::path home;                       // the gateway's home
};

fs::path account_home(const std::optional<std::string>& user)
{
    if (!user)
        return {};
    const passwd* pw = ::getpwnam(user->c_str());
    if (!pw || !pw->pw_dir)
        throw Error("Hermes' unit runs as " + *user + ", which is no account here",
                    "fix User= in Hermes' unit, or create the account");
    return pw->pw_dir;
}

Homes homes_of(const ScopePlaces& places, std::string_view profile, const GatewayUnit& their)
{
    const std::optional<std::string> env = their.env("HERMES_HOME");
    fs::path default_root = places.scope == UnitScope::User ? fs::path() : account_home(their.user) / ".hermes";
    if (profile.empty()) {
        if (their.profile)
            throw Error("Hermes' unit runs profile '" + *their.profile + "', not the default home",
                        "migrate it with --profile " + *their.profile);
        return {env, env ? fs::path(*env) : default_root};
    }
    if (their.profile && *their.profile != profile)
        throw Error("Hermes' unit runs profile '" + *their.profile + "', not '" + std::string(profile) + "'",
                    "migrate it with --profile " + *their.profile);
    if (!env)
        return {std::nullopt, default_root / "profiles" / std::string(profile)};
    const fs::path home = fs::path(*env).lexically_normal();
    if (home.filename() != profile || home.parent_path().filename() != "profiles")
        throw Error("Hermes' unit gives its gateway the home " + *env + ", which is not <root>/profiles/" +
                        std::string(profile),
                    "hermes-gateway@" + std::string(profile) +
                        ".service supervises <root>/profiles/PROFILE, the root being $HERMES_HOME or ~/.hermes");
    return {home.parent_path().parent_path().string(), home};
}

std::string dropin_for(const ScopePlaces& places, const GatewayUnit& their, const Homes& homes, const fs::path& from)
{
    std::string out = "# What Hermes' own unit " + from.string() +
                      " gave its gateway,\n# written by hermes-gatewayctl migrate (migrate --undo removes this file).\n"
                      "[Service]\n";
    for (const auto& [name, value] : their.environment) {
        if (name == "HERMES_HOME")
            continue;
        out += "Environment=" + quote_unit_word(name + "=" + value) + "\n";
    }
    if (homes.root_env)
        out += "Environment=" + quote_unit_word("HERMES_HOME=" + *homes.root_env) + "\n";
    for (const std::string& file : their.environment_files)
        out += "EnvironmentFile=" + file + "\n";
    if (places.scope == UnitScope::System) {
        out += "# Hermes' account and home instead of hermes and /var/lib/hermes.\n";
        out += "User=" + *their.user + "\nGroup=" + their.group.value_or(*their.user) + "\n";
        out += "StateDirectory=\nReadWritePaths=\nReadWritePaths=" + quote_unit_word(homes.home.string()) + "\n";
        out += "ProtectHome=read-only\n";
    }
    if (their.working_directory)
        out += "WorkingDirectory=" + *their.working_directory + "\n";
    else if (places.scope == UnitScope::System)
        out += "WorkingDirectory=" + quote_unit_word(homes.home.string()) + "\n";
    return out;
}

std::string bus_policy_for(const std::string& user)
{
    return "<?xml version=\"1.0\"?>\n"
           "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
           "        \"https://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<!-- Written by hermes-gatewayctl migrate: hermes-gateway.service runs as " +
           user +
           ", the account of Hermes' own unit, and must own its bus names. migrate --undo removes this file. -->\n"
           "<busconfig>\n"
           "        <policy user=\"" +
           user + "\">\n                <allow own_prefix=\"" HGW_BUS_NAME "\"/>\n        </policy>\n</busconfig>\n";
}

void check_system_unit(std::string_view profile, const GatewayUnit& their)
{
    if (!profile.empty())
        throw Error("a system unit of a Hermes profile cannot be migrated",
                    "hermes-gateway@PROFILE.service always supervises /var/lib/hermes/profiles/PROFILE as hermes; "
                    "run the profile as a user unit (hermes-gatewayctl migrate --user --profile PROFILE as its user)");
    if (!their.user || *their.user == "root" || *their.user == "0")
        throw Error("Hermes' unit runs its gateway as root",
                    "hermes-gatewayd's system unit runs an unprivileged account; give Hermes' unit User= first");
    for (char c : *their.user)
        if (c == '<' || c == '>' || c == '"' || c == '&' || c == '\'')
            throw Error("Hermes' unit runs as '" + *their.user + "', a name this tool will not write into XML");
}

} // namespace

std::string config_command_line(const std::vector<std::string>& argv)
{
    if (argv.empty())
        throw Error("Hermes' unit has no ExecStart=", "it runs nothing to migrate");
    std::string line = "command = [";
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (argv[i].find_first_of("\"#\n") != std::string::npos)
            throw Error("the gateway argument '" + argv[i] + "' cannot be written to gatewayd.conf",
                        "its format cannot hold '\"', '#' or a line break; give the command in gatewayd.conf "
                        "yourself and migrate again");
        line += (i ? ", \"" : "\"") + argv[i] + "\"";
    }
    return line + "]";
}

MigratePlan make_migrate_plan(const ScopePlaces& places, std::string_view profile, const fs::path& their_path,
                              const GatewayUnit& their, UnitState state, const std::optional<std::string>& config)
{
    if (their.kind == UnitKind::Ours)
        throw Error(their_path.string() + " already runs hermes-gatewayd, so there is nothing to migrate",
                    "but it shadows the package's unit: remove it if it is a copy of ours");
    if (their.kind != UnitKind::Hermes)
        throw Error(their_path.string() + " is not Hermes' gateway unit (" + describe_exec(their) + ")",
                    "migrate moves only a unit whose ExecStart runs `hermes … gateway run`; this one is left alone");
    if (places.scope == UnitScope::System)
        check_system_unit(profile, their);

    MigratePlan p;
    p.scope = places.scope;
    p.profile = std::string(profile);
    p.their_unit = their_path.filename().string();
    p.our_unit = our_unit_name(profile);
    p.their_path = their_path;
    p.their_state = state;
    p.record_dir = places.state_dir / p.our_unit;
    const Homes homes = homes_of(places, profile, their);
    p.dropin_path = places.unit_dir / (p.our_unit + ".d") / "50-migrated-from-hermes.conf";
    p.dropin_text = dropin_for(places, their, homes, their_path);
    p.config_file = places.config_file;
    const std::string command = config_command_line(their.gateway_command);
    p.config_text = config_with(config, command, places.config_file, their_path);
    if (places.scope == UnitScope::System && *their.user != kServiceAccount) {
        p.bus_policy_path = "/etc/dbus-1/system.d/" HGW_BUS_NAME "-migrated.conf";
        p.bus_policy_text = bus_policy_for(*their.user);
    }

    const std::string sc = places.scope == UnitScope::User ? "systemctl --user" : "systemctl";
    auto& s = p.steps;
    s.push_back("keep a copy of " + their_path.string() + " in " + p.record_dir.string() + " (it was " +
                (state.enabled ? "enabled" : "not enabled") + " and " + (state.active ? "running" : "not running") +
                "), for migrate --undo");
    s.push_back(p.config_text ? "add to " + p.config_file.string() + ": " + command
                              : p.config_file.string() + " already names this command: left as it is");
    s.push_back("write " + p.dropin_path.string() + " (the environment" +
                std::string(places.scope == UnitScope::System ? ", account and home" : "") + " of Hermes' unit)");
    if (!p.bus_policy_path.empty())
        s.push_back("write " + p.bus_policy_path.string() + " (lets " + *their.user + " own " HGW_BUS_NAME ")");
    s.push_back(state.active ? sc + " stop " + p.their_unit + ", and wait until it is inactive (the gateway is down from here)"
                             : p.their_unit + " is not running: nothing to stop");
    s.push_back((state.enabled ? sc + " disable " + p.their_unit + ", then r" : "r") + std::string("emove ") +
                their_path.string() + " (the copy stays)");
    s.push_back(sc + " daemon-reload");
    if (state.enabled || state.active) {
        const std::string verb = state.enabled && state.active ? " enable --now " : state.enabled ? " enable " : " start ";
        s.push_back(sc + verb + p.our_unit +
                    (state.active ? " (the gateway is up again once it is active), and check that it is active and "
                                    "loaded from the package's file"
                                  : ""));
    }
    return p;
}

} // namespace hgw::cli
