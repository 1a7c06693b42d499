// hermes-gatewayctl: the command line for people and for the update hook.
//
// This front end parses the command line, prints help, and runs `pidfile`
// itself; the bus commands run in a module loaded only for them (see
// bus_module.h), so that the commands that need no bus load no bus library.

#include "cli/bus_module.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/migrate/migrate_command.h"
#include "cli/pidfile_command.h"
#include "cli/status_warnings.h"

#include <cstdio>
#include <variant>

#ifndef HGW_VERSION
#error "HGW_VERSION must be the project's version"
#endif

namespace {

using namespace hgw::cli;

// One overload per kind of invocation; each returns the exit code.
struct Runner {
    int operator()(const HelpRequest& h) const
    {
        std::fputs(h.text.c_str(), stdout);
        return exit_codes::kOk;
    }
    int operator()(const VersionRequest&) const
    {
        std::puts("hermes-gatewayctl " HGW_VERSION);
        return exit_codes::kOk;
    }
    int operator()(const UsageFailure& f) const
    {
        std::fprintf(stderr, "hermes-gatewayctl: %s\n%s\n", f.message.c_str(), f.hint.c_str());
        return exit_codes::kInvalidArgs;
    }
    int operator()(const PidfileRequest& r) const { return run_pidfile(r); }
    int operator()(const MigrateRequest& r) const { return run_migrate(r); }
    int operator()(const BusRequest& r) const
    {
        if (r.verb == BusVerb::Status)
            warn_about_shadowing_units(r);
        return run_bus_command(r);
    }
};

} // namespace

int main(int argc, char** argv)
{
    return std::visit(Runner{}, parse_command_line(argc, argv));
}
