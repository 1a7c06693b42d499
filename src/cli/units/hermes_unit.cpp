#include "cli/units/hermes_unit.h"

#include "core/gateway_cmdline.h"

#include <filesystem>

namespace hgw::cli {

namespace {

bool runs_our_daemon(const std::vector<std::string>& exec)
{
    return !exec.empty() && std::filesystem::path(exec.front()).filename() == "hermes-gatewayd";
}

// Hermes' own profile options, taken out: the daemon gives each gateway its
// home through HERMES_HOME, which Hermes follows.
std::vector<std::string> without_profile(const std::vector<std::string>& exec, std::optional<std::string>& profile)
{
    std::vector<std::string> out;
    for (std::size_t i = 0; i < exec.size(); ++i) {
        const std::string& a = exec[i];
        if ((a == "--profile" || a == "-p") && i + 1 < exec.size()) {
            profile = exec[++i];
        } else if (a.starts_with("--profile=")) {
            profile = a.substr(10);
        } else {
            out.push_back(a);
        }
    }
    return out;
}

std::string joined(const std::vector<std::string>& words)
{
    std::string s;
    for (const std::string& w : words)
        s += (s.empty() ? "" : " ") + w;
    return s;
}

} // namespace

std::optional<std::string> GatewayUnit::env(std::string_view name) const
{
    std::optional<std::string> value;
    for (const auto& [n, v] : environment)
        if (n == name)
            value = v; // the last assignment wins, as in systemd
    return value;
}

GatewayUnit read_gateway_unit(const UnitFile& unit)
{
    GatewayUnit g;
    if (auto exec = unit.last("Service", "ExecStart"))
        g.exec = exec_command(*exec);
    g.gateway_command = without_profile(g.exec, g.profile);
    if (runs_our_daemon(g.exec))
        g.kind = UnitKind::Ours;
    else if (looks_like_gateway(g.exec))
        g.kind = UnitKind::Hermes;
    for (const std::string& value : unit.values("Service", "Environment")) {
        for (const std::string& assignment : split_unit_words(value, false)) {
            const auto eq = assignment.find('=');
            if (eq != std::string::npos && eq > 0)
                g.environment.emplace_back(assignment.substr(0, eq), assignment.substr(eq + 1));
        }
    }
    g.environment_files = unit.values("Service", "EnvironmentFile");
    g.working_directory = unit.last("Service", "WorkingDirectory");
    g.user = unit.last("Service", "User");
    g.group = unit.last("Service", "Group");
    return g;
}

std::string describe_exec(const GatewayUnit& unit)
{
    switch (unit.kind) {
    case UnitKind::Ours: return "runs hermes-gatewayd";
    case UnitKind::Hermes: return "runs a Hermes gateway with no supervisor (" + joined(unit.exec) + ")";
    case UnitKind::Other: break;
    }
    return unit.exec.empty() ? "has no ExecStart=" : "runs " + joined(unit.exec);
}

} // namespace hgw::cli
