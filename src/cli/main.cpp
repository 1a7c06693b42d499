// hermes-gatewayctl: the command line for people and for the update hook.

#include "cli/bus_commands.h"
#include "cli/pidfile_command.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv)
{
    CLI::App app{"hermes-gatewayctl: inspect and control the Hermes gateway"};
    app.require_subcommand(1);
    int exit_code = 0;
    hgw::cli::add_pidfile_command(app, exit_code);
    hgw::cli::add_bus_commands(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    return exit_code;
}
