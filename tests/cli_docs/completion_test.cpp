// The shell completions of hermes-gatewayctl (packaging/bash-completion,
// zsh-completion, fish-completion), run by the real shells: bash with
// bash-completion's library, zsh's line editor on a pseudo-terminal, fish's
// own `complete` loading them from its completion path. Each must offer
// exactly the commands, pidfile actions and options that hermes-gatewayctl's
// --help lists (and the pending ones of help_listing.h), so that neither the
// program nor a completion can change alone.

#include "cli_docs/help_listing.h"

#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>

using namespace hgw;
using namespace hgw::test;

namespace {

const std::string kCtl = "hermes-gatewayctl";

std::string find_shell(const std::string& name)
{
    std::string path = find_program(name);
    INFO(name << " is not installed: scripts/install-deps installs bash-completion, zsh and fish");
    REQUIRE_FALSE(path.empty());
    return path;
}

// What `shell` offers for `line` (a trailing blank completes a new word),
// with the completion file of the source tree and the built
// hermes-gatewayctl first on PATH. The shells' own state goes to `home`,
// which is also the Hermes home.
Names complete(const std::string& shell, const std::string& line, const TempHome& home)
{
    std::vector<std::string> argv;
    if (shell == "bash")
        argv = {find_shell("bash"), source_path("tests/cli_docs/complete.bash"),
                source_path("packaging/bash-completion/hermes-gatewayctl")};
    else if (shell == "zsh")
        argv = {find_shell("zsh"), "-f", source_path("tests/cli_docs/complete.zsh"),
                source_path("packaging/zsh-completion")};
    else
        argv = {find_shell("fish"), "--no-config", source_path("tests/cli_docs/complete.fish"),
                source_path("packaging/fish-completion")};
    argv.push_back(line);

    const char* path = std::getenv("PATH");
    SpawnOptions opts;
    opts.env = {{"PATH", std::filesystem::path(HGW_CTL_PATH).parent_path().string() + ":" + (path ? path : "")},
                {"HOME", home.dir().string()},
                {"XDG_CONFIG_HOME", (home.dir() / ".config").string()},
                {"XDG_DATA_HOME", (home.dir() / ".local/share").string()},
                {"HERMES_HOME", home.dir().string()}};
    RunResult r = run(argv, opts);
    INFO(shell << " completing '" << line << "' said:\n" << r.output);
    REQUIRE(r.exit_code == 0);
    Names offered;
    std::istringstream in(r.output);
    for (std::string candidate; std::getline(in, candidate);)
        if (!candidate.empty())
            offered.insert(candidate);
    return offered;
}

Names words_of(const Names& offered)
{
    Names out;
    for (const std::string& s : offered)
        if (!s.starts_with("-"))
            out.insert(s);
    return out;
}

Names long_options_of(const Names& offered)
{
    Names out;
    for (const std::string& s : offered)
        if (s.starts_with("--"))
            out.insert(s);
    return out;
}

// Every command: those of --help and the pending ones.
Names all_commands()
{
    Names commands = ctl_commands();
    for (const auto& [name, options] : pending_commands())
        commands.insert(name);
    return commands;
}

Names expected_options(const std::string& command)
{
    auto pending = pending_commands().find(command);
    return pending != pending_commands().end() ? pending->second : ctl_options(command);
}

} // namespace

TEST_CASE("a pending command leaves the pending list once hermes-gatewayctl --help lists it", "[cli-docs][completion]")
{
    const Names commands = ctl_commands();
    for (const auto& [name, options] : pending_commands()) {
        INFO(name << " is in hermes-gatewayctl --help now: remove it from pending_commands() in "
                     "tests/cli_docs/help_listing.cpp, so that its completions and man page are checked against "
                     "its own --help");
        CHECK(commands.count(name) == 0);
    }
}

TEST_CASE("completing `hermes-gatewayctl ` offers every command of its --help and no other", "[cli-docs][completion]")
{
    const std::string shell = GENERATE(as<std::string>{}, "bash", "zsh", "fish");
    TempHome home;
    INFO(shell);
    CHECK(words_of(complete(shell, kCtl + " ", home)) == all_commands());
}

TEST_CASE("completing `hermes-gatewayctl pidfile ` (or fleet) offers the actions of its --help", "[cli-docs][completion]")
{
    const std::string shell = GENERATE(as<std::string>{}, "bash", "zsh", "fish");
    const std::string command = GENERATE(as<std::string>{}, "pidfile", "fleet");
    TempHome home;
    INFO(shell << " " << command);
    CHECK(words_of(complete(shell, kCtl + " " + command + " ", home)) == ctl_actions(command));
}

TEST_CASE("completing `hermes-gatewayctl COMMAND --` offers the long options of COMMAND --help and no other",
          "[cli-docs][completion]")
{
    const std::string shell = GENERATE(as<std::string>{}, "bash", "zsh", "fish");
    TempHome home;
    for (const std::string& command : all_commands()) {
        DYNAMIC_SECTION(shell << ": " << command)
        {
            const Names expected = expected_options(command);
            CHECK(long_options_of(complete(shell, kCtl + " " + command + " --", home)) == expected);
            if (has_actions(command)) // its options come before or after the action
                for (const std::string& action : ctl_actions(command))
                    CHECK(long_options_of(complete(shell, kCtl + " " + command + " " + action + " --", home)) ==
                          expected);
        }
    }
}

TEST_CASE("completing --profile offers the profiles of the Hermes home", "[cli-docs][completion]")
{
    const std::string shell = GENERATE(as<std::string>{}, "bash", "zsh", "fish");
    TempHome home;
    for (const char* profile : {"work", "2nd"})
        std::filesystem::create_directories(home.dir() / "profiles" / profile);
    home.write("profiles/not-a-profile", "a file, not a home");
    INFO(shell);
    // The system service's profiles (/var/lib/hermes/profiles) may be offered too.
    const Names offered = complete(shell, kCtl + " status --profile ", home);
    CHECK(offered.count("work") == 1);
    CHECK(offered.count("2nd") == 1);
    CHECK(offered.count("not-a-profile") == 0);
}

TEST_CASE("zsh and fish offer no second bus once one is chosen", "[cli-docs][completion]")
{
    const std::string shell = GENERATE(as<std::string>{}, "zsh", "fish");
    TempHome home;
    INFO(shell);
    const Names offered = long_options_of(complete(shell, kCtl + " restart --user --", home));
    CHECK(offered.count("--system") == 0);
    CHECK(offered.count("--address") == 0);
    CHECK(offered.count("--profile") == 1);
}
