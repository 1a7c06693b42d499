#include "cli_docs/help_listing.h"

#include "support/child_process.h"

#include <catch2/catch.hpp>

#include <regex>
#include <sstream>
#include <vector>

namespace hgw::test {

namespace {

std::string help_of(const std::vector<std::string>& argv)
{
    RunResult r = run(argv);
    INFO("output of the --help:\n" << r.output);
    REQUIRE(r.exit_code == 0);
    return r.output;
}

std::string ctl_help(const std::vector<std::string>& args)
{
    std::vector<std::string> argv = {HGW_CTL_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.emplace_back("--help");
    return help_of(argv);
}

// The rows of the section that starts with the line `heading` and ends at
// a blank line. A row starts two columns in; deeper lines continue a row's
// description and are left out.
std::vector<std::string> section_rows(const std::string& help, const std::string& heading)
{
    std::vector<std::string> rows;
    std::istringstream in(help);
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (!inside) {
            inside = line == heading;
            continue;
        }
        if (line.empty())
            break;
        if (line.size() > 2 && line.starts_with("  ") && line[2] != ' ')
            rows.push_back(line.substr(2));
    }
    INFO(help);
    REQUIRE_FALSE(rows.empty()); // a heading that moved must not make the checks vacuous
    return rows;
}

// "pidfile show|check|clean  Inspect ..." -> "pidfile"
Names first_words(const std::vector<std::string>& rows)
{
    Names names;
    for (const std::string& row : rows)
        names.insert(row.substr(0, row.find_first_of(" |")));
    return names;
}

// The long options named in the left column of option rows: "-h, --help",
// "--home DIR", "--write-pidfile,--no-write-pidfile{false}".
Names long_options(const std::vector<std::string>& rows)
{
    static const std::regex option("--[a-z][a-z0-9-]*");
    Names names;
    for (const std::string& row : rows) {
        if (!row.starts_with("-"))
            continue;
        const std::string left = row.substr(0, row.find("  "));
        for (std::sregex_iterator it(left.begin(), left.end(), option), end; it != end; ++it)
            names.insert(it->str());
    }
    return names;
}

} // namespace

Names ctl_commands()
{
    return first_words(section_rows(ctl_help({}), "Commands:"));
}

Names ctl_pidfile_actions() { return ctl_actions("pidfile"); }

Names ctl_actions(const std::string& command)
{
    return first_words(section_rows(ctl_help({command}), "Actions:"));
}

bool has_actions(const std::string& command) { return command == "pidfile" || command == "fleet"; }

Names ctl_options(const std::string& command)
{
    return long_options(section_rows(ctl_help({command}), "Options:"));
}

Names daemon_options()
{
    return long_options(section_rows(help_of({HGW_DAEMON_PATH, "--help"}), "Options:"));
}

const std::map<std::string, Names>& pending_commands()
{
    static const std::map<std::string, Names> commands = {
    };
    return commands;
}

} // namespace hgw::test
