// `hermes-gatewayctl fleet handover --to HOST`: what the command line
// accepts and refuses before any daemon is asked (tests/fleet drives it
// against real daemons).

#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

using namespace hgw::test;

namespace {

// A bus address where no daemon listens: a command that parsed fails with 4.
std::string nobody(const TempHome& home)
{
    return "unix:path=" + (home.dir() / "no-bus").string();
}

} // namespace

TEST_CASE("fleet handover --to is taken before or after the action, and an empty one is refused", "[cli][fleet]")
{
    TempHome home;
    for (const auto& words : {std::vector<std::string>{"handover", "--to", "b"},
                              std::vector<std::string>{"--to", "b", "handover"},
                              std::vector<std::string>{"handover", "--to=b"}}) {
        std::vector<std::string> args = {HGW_CTL_PATH, "fleet", "--address", nobody(home)};
        args.insert(args.end(), words.begin(), words.end());
        RunResult r = run(args);
        INFO(r.output);
        CHECK(r.exit_code == 4); // parsed; no daemon there
    }
    for (const auto& to : {std::vector<std::string>{"--to="}, std::vector<std::string>{"--to", ""}}) {
        std::vector<std::string> args = {HGW_CTL_PATH, "fleet", "handover", "--address", nobody(home)};
        args.insert(args.end(), to.begin(), to.end());
        RunResult r = run(args);
        INFO(r.output);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.output, Catch::Contains("empty --to"));
    }
    RunResult help = run({HGW_CTL_PATH, "fleet", "handover", "--help"});
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.output, Catch::Contains("--to HOST"));
}
