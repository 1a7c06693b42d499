// hermes-gatewayctl(1) and hermes-gatewayd(8), docs/man: they render
// without a warning, as lintian renders them and with every groff warning
// on, and they describe every command and option the programs' --help
// lists (and the pending commands of help_listing.h), so that neither the
// programs nor the pages can change alone.

#include "cli_docs/help_listing.h"

#include "support/child_process.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>

using namespace hgw;
using namespace hgw::test;

namespace {

const std::vector<std::string> kPages = {"hermes-gatewayctl.1", "hermes-gatewayd.8"};

std::string find_tool(const std::string& name)
{
    std::string path = find_program(name);
    INFO(name << " is not installed: scripts/install-deps installs man-db and groff-base");
    REQUIRE_FALSE(path.empty());
    return path;
}

std::string page_path(const std::string& page)
{
    return source_path("docs/man/" + page);
}

// The lines from `.SH HEADING` to the next `.SH`.
std::vector<std::string> section(const std::string& page, const std::string& heading)
{
    std::vector<std::string> lines;
    std::istringstream in(read_source("docs/man/" + page));
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(".SH ")) {
            if (inside)
                break;
            inside = line == ".SH " + heading;
            continue;
        }
        if (inside)
            lines.push_back(line);
    }
    INFO(page << ": .SH " << heading);
    REQUIRE_FALSE(lines.empty());
    return lines;
}

// As roff spells a name: each '-' as "\-".
std::string roff(const std::string& name)
{
    std::string out;
    for (char c : name)
        out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
}

// The option is named in `lines` as a whole: "\-\-burst" within
// "\-\-burst\-window" does not count.
bool names_option(const std::vector<std::string>& lines, const std::string& option)
{
    const std::string spelled = roff(option);
    for (const std::string& line : lines)
        for (auto at = line.find(spelled); at != std::string::npos; at = line.find(spelled, at + 1)) {
            const std::string after = line.substr(at + spelled.size(), 2);
            if (after.empty() || (!std::isalnum(static_cast<unsigned char>(after[0])) && after != "\\-"))
                return true;
        }
    return false;
}

// The tags of the section's `.TP` items ("status", "pidfile show",
// "wait\-ready"), without their font macro.
std::vector<std::string> item_tags(const std::vector<std::string>& lines)
{
    std::vector<std::string> tags;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i)
        if (lines[i] == ".TP") {
            const std::string& tag = lines[i + 1];
            tags.push_back(tag.substr(tag.find(' ') + 1));
        }
    return tags;
}

bool has_tag(const std::vector<std::string>& tags, const std::string& tag)
{
    return std::find(tags.begin(), tags.end(), roff(tag)) != tags.end();
}

} // namespace

TEST_CASE("the man pages render without a warning", "[cli-docs][man]")
{
    for (const std::string& page : kPages) {
        INFO(page);
        // As lintian renders them.
        SpawnOptions lintian_like;
        lintian_like.env = {{"LC_ALL", "C.UTF-8"}, {"MANROFFSEQ", ""}, {"MANWIDTH", "80"}};
        RunResult man = run({find_tool("sh"), "-c", "\"$0\" --warnings -E UTF-8 -l -Tutf8 -Z \"$1\" >/dev/null",
                             find_tool("man"), page_path(page)},
                            lintian_like);
        INFO("man said:\n" << man.output);
        CHECK(man.exit_code == 0);
        CHECK(man.output.empty());
        // With every groff warning on; -z: only the warnings are written.
        RunResult groff = run({find_tool("groff"), "-k", "-man", "-ww", "-z", "-Tutf8", page_path(page)});
        INFO("groff said:\n" << groff.output);
        CHECK(groff.exit_code == 0);
        CHECK(groff.output.empty());
    }
}

TEST_CASE("hermes-gatewayctl(1) has an entry for every command and pidfile action of --help", "[cli-docs][man]")
{
    const std::vector<std::string> tags = item_tags(section("hermes-gatewayctl.1", "COMMANDS"));
    INFO("the entries of COMMANDS: " << Catch::Detail::stringify(tags));
    for (const std::string& command : ctl_commands()) {
        INFO(command);
        if (has_actions(command)) {
            for (const std::string& action : ctl_actions(command))
                CHECK(has_tag(tags, command + " " + action));
        } else {
            CHECK(has_tag(tags, command));
        }
    }
    for (const auto& [command, options] : pending_commands()) {
        INFO(command << " (pending)");
        CHECK(has_tag(tags, command));
    }
}

TEST_CASE("hermes-gatewayctl(1) describes every option of every command's --help", "[cli-docs][man]")
{
    const std::vector<std::string> options = section("hermes-gatewayctl.1", "OPTIONS");
    for (const std::string& command : ctl_commands())
        for (const std::string& option : ctl_options(command)) {
            INFO(command << " " << option);
            CHECK(names_option(options, option));
        }
    for (const auto& [command, command_options] : pending_commands())
        for (const std::string& option : command_options) {
            INFO(command << " (pending) " << option);
            CHECK(names_option(options, option));
        }
}

TEST_CASE("hermes-gatewayd(8) describes every option of its --help", "[cli-docs][man]")
{
    const std::vector<std::string> options = section("hermes-gatewayd.8", "OPTIONS");
    for (const std::string& option : daemon_options()) {
        INFO(option);
        CHECK(names_option(options, option));
    }
}
