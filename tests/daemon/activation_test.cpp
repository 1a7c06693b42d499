// D-Bus activation: the package installs an activation file for
// org.hermes.Gateway1, so a call that may auto-start its destination starts
// a daemon that does not run. hermes-gatewayctl's calls never do: a status
// read (or any other command) must not bring back a gateway that an admin
// stopped; `systemctl start` does that.
#include "support/bus_harness.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace hgw;
using namespace hgw::test;
namespace fs = std::filesystem;

namespace {

// An activation file whose service only leaves a trace: each activation
// appends a line to `trace`, then fails, so that the bus answers at once
// (Spawn.ChildExited) instead of waiting for the name.
void write_activation_file(const fs::path& dir, const fs::path& trace)
{
    fs::create_directories(dir);
    std::ofstream(dir / (HGW_BUS_NAME ".service"))
        << "[D-BUS Service]\nName=" HGW_BUS_NAME "\nExec=/bin/sh -c 'echo activated >> " << trace.string()
        << "; exit 1'\n";
}

RunResult ctl(const PrivateBus& bus, std::vector<std::string> args)
{
    args.insert(args.begin(), ctl_path());
    args.insert(args.end(), {"--address", bus.address()});
    return run(args);
}

} // namespace

TEST_CASE("hermes-gatewayctl never starts a daemon by D-Bus activation", "[daemon][ctl][activation]")
{
    TempHome dir;
    const fs::path trace = dir.dir() / "activations";
    write_activation_file(dir.dir() / "services", trace);
    PrivateBus bus(dir.dir() / "services");

    // The trace works: busctl's call (auto-start by default) activates.
    RunResult control = run({"/usr/bin/busctl", "--address=" + bus.address(), "call", HGW_BUS_NAME,
                             HGW_BUS_PATH, HGW_BUS_INTERFACE, HGW_BUS_METHOD_GET_STATUS});
    INFO("busctl: exit " << control.exit_code << ": " << control.output);
    REQUIRE(fs::exists(trace));
    fs::remove(trace);

    // Each command: no daemon (exit 4), and no activation.
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"status"}, {"status", "--json"}, {"stop"}, {"start"}, {"restart"}, {"replace", "--reason", "update"},
             {"wait-ready", "--timeout", "2s"}}) {
        RunResult r = ctl(bus, args);
        INFO(args.front() << ": exit " << r.exit_code << ": " << r.output);
        CHECK(r.exit_code == 4);
        CHECK_FALSE(fs::exists(trace));
    }
}
