// Issue 10, item 4: hermes-gatewayctl's `pidfile` commands, --help,
// --version and usage errors load no bus library; only a bus command loads
// the D-Bus module and libsystemd. Seen through the dynamic loader's own
// report (LD_DEBUG=libs), which names every object it initializes; the bus
// command proves that the report is read right.

#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

using namespace hgw;
using namespace hgw::test;

namespace {

// Everything the bus stack brings: sdbus-c++, libsystemd and what it
// links, and our own module.
const std::vector<std::string> kBusLibraries = {
    "hermes-gatewayctl-bus", "libsdbus-c++", "libsystemd", "libcap.", "libgcrypt",
    "liblzma",               "libzstd",      "liblz4",     "libgpg-error",
};

// The shared objects the loader initialized in the run, from its LD_DEBUG report.
std::vector<std::string> loaded_objects(const std::string& output)
{
    std::vector<std::string> objects;
    std::istringstream in(output);
    const std::string marker = "calling init: ";
    for (std::string line; std::getline(in, line);)
        if (auto at = line.find(marker); at != std::string::npos)
            objects.push_back(line.substr(at + marker.size()));
    return objects;
}

std::vector<std::string> bus_libraries_in(const std::vector<std::string>& objects)
{
    std::vector<std::string> found;
    for (const auto& object : objects)
        for (const auto& lib : kBusLibraries)
            if (object.find(lib) != std::string::npos)
                found.push_back(object);
    return found;
}

RunResult run_traced(const std::vector<std::string>& args, const TempHome& home)
{
    std::vector<std::string> argv = {HGW_CTL_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions opts;
    opts.env = {{"LD_DEBUG", "libs"}, {"HERMES_HOME", home.dir().string()}};
    return run(argv, opts);
}

} // namespace

TEST_CASE("hermes-gatewayctl pidfile, migrate, --help and usage errors load no bus library", "[cli][lean]")
{
    TempHome home;
    const std::string dir = home.dir().string();
    struct Case {
        std::vector<std::string> args;
        int exit_code;
    };
    const std::vector<Case> cases = {
        {{"pidfile", "check", "--home", dir}, 3},
        {{"pidfile", "check", "--home", dir, "--json"}, 3},
        {{"pidfile", "show", "--home", dir}, 3},
        {{"pidfile", "clean", "--home", dir}, 0},
        {{"--help"}, 0},
        {{"replace", "--help"}, 0},
        {{"migrate", "--help"}, 0},
        // Nothing recorded: refused before any systemctl runs.
        {{"migrate", "--user", "--undo", "--dry-run"}, 1},
        {{"--version"}, 0},
        {{"status", "--no-such-option"}, 2},
    };
    for (const Case& c : cases) {
        RunResult r = run_traced(c.args, home);
        std::string line;
        for (const auto& a : c.args)
            line += " " + a;
        INFO("hermes-gatewayctl" << line << "\n" << r.output);
        CHECK(r.exit_code == c.exit_code);
        auto objects = loaded_objects(r.output);
        CHECK_FALSE(objects.empty()); // the report was there to read
        CHECK(bus_libraries_in(objects).empty());
    }
}

TEST_CASE("a hermes-gatewayctl bus command loads the D-Bus module and libsystemd", "[cli][lean]")
{
    TempHome home;
    // No bus behind the address: the command gets as far as connecting.
    RunResult r = run_traced({"status", "--address", "unix:path=" + (home.dir() / "no-bus").string()}, home);
    INFO(r.output);
    CHECK(r.exit_code == 4);
    auto found = bus_libraries_in(loaded_objects(r.output));
    auto has = [&](const std::string& lib) {
        return std::any_of(found.begin(), found.end(), [&](const std::string& o) { return o.find(lib) != std::string::npos; });
    };
    CHECK(has("hermes-gatewayctl-bus.so"));
    CHECK(has("libsystemd.so"));
    CHECK_FALSE(has("libsdbus-c++")); // sd-bus itself, not the C++ layer
}
