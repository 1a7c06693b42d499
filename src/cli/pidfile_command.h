#pragma once
// `hermes-gatewayctl pidfile show|check|clean`.

#include <CLI/CLI.hpp>

namespace hgw::cli {

// Adds the `pidfile` subcommand to `app`. Its callback sets `exit_code`.
void add_pidfile_command(CLI::App& app, int& exit_code);

} // namespace hgw::cli
