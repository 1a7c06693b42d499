// `hermes-gatewayctl pidfile ... --home` (issue 8, item 14): a missing home is
// an error naming it, not "none"; an empty --home is an error, not ~/.hermes.

#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

using namespace hgw;
using namespace hgw::test;

TEST_CASE("pidfile <any> --home /nonexistent fails naming the missing home", "[cli][home]")
{
    TempHome home;
    const std::string missing = (home.dir() / "nonexistent").string();
    for (const char* sub : {"check", "show", "clean"}) {
        for (bool json : {false, true}) {
            std::vector<std::string> argv = {HGW_CTL_PATH, "pidfile", sub, "--home", missing};
            if (json)
                argv.push_back("--json");
            RunResult r = run(argv);
            INFO(sub << (json ? " --json" : "") << ": " << r.output);
            CHECK(r.exit_code == 2);
            CHECK(r.output.find(missing) != std::string::npos);
            CHECK(r.output.find("does not exist") != std::string::npos);
            CHECK(r.output.find("\"none\"") == std::string::npos); // no verdict
            CHECK(r.output.find("none:") == std::string::npos);
        }
    }
    // A home that is a file is no better.
    home.write("plain", "");
    RunResult r = run({HGW_CTL_PATH, "pidfile", "check", "--home", (home.dir() / "plain").string()});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("not a directory") != std::string::npos);
}

TEST_CASE("pidfile <any> --home '' is an error, before or after the subcommand", "[cli][home]")
{
    TempHome home;
    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}}; // what '' used to mean silently
    for (const char* sub : {"check", "show", "clean"}) {
        for (bool before : {false, true}) {
            std::vector<std::string> argv = {HGW_CTL_PATH, "pidfile"};
            if (before)
                argv.insert(argv.end(), {"--home", "", sub});
            else
                argv.insert(argv.end(), {sub, "--home", ""});
            RunResult r = run(argv, opts);
            INFO(sub << (before ? " (--home first)" : "") << ": " << r.output);
            CHECK(r.exit_code == 2);
            CHECK(r.output.find("empty --home") != std::string::npos);
        }
    }
    // Without --home, $HERMES_HOME still applies.
    RunResult r = run({HGW_CTL_PATH, "pidfile", "check"}, opts);
    INFO(r.output);
    CHECK(r.exit_code == 3);
}
