#pragma once
// What the programs' own --help lists, read by running them: the one
// account of their command line that the man pages and the shell
// completions are checked against, so that neither can drift from it.

#include <map>
#include <set>
#include <string>

namespace hgw::test {

using Names = std::set<std::string>;

// The commands of `hermes-gatewayctl --help` ("pidfile", "status", ...).
Names ctl_commands();

// The actions of `hermes-gatewayctl pidfile --help` (show, check, clean).
Names ctl_pidfile_actions();
// The commands whose first word is an action (pidfile, fleet), with their
// actions, from `COMMAND --help`'s "Actions:".
Names ctl_actions(const std::string& command);
bool has_actions(const std::string& command);

// The long options of `hermes-gatewayctl COMMAND --help`, --help included.
Names ctl_options(const std::string& command);

// The long options of `hermes-gatewayd --help`, --no-... forms included.
Names daemon_options();

// Commands that the completions and hermes-gatewayctl(1) describe before
// hermes-gatewayctl has them (they are written ahead of a command added
// elsewhere), each with the long options it is to take. Once --help lists
// one, it must leave this list: from then on --help is its account.
const std::map<std::string, Names>& pending_commands();

} // namespace hgw::test
