#pragma once
// What the front end of hermes-gatewayctl hands to its D-Bus module: one bus
// command, parsed and checked. The front end links neither libsystemd nor
// any other bus library; the module (hermes-gatewayctl-bus.so, see
// bus_module.h) does, and is loaded only for these commands.
//
// Both sides are built from this header in one build and shipped together,
// so the struct crosses as it is. The entry point's name carries a version,
// and the caller passes the struct's size, so that a binary and a module of
// different builds (a half-finished upgrade) refuse each other instead of
// misreading the request.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace hgw::cli {

enum class BusKind { System, User, Address };

struct BusTarget {
    BusKind kind = BusKind::System;
    std::string address;  // for BusKind::Address
    std::string bus_name; // HGW_BUS_NAME[.element of the profile] (util/bus_names.h)
};

enum class BusVerb { Status, Replace, Restart, Start, Stop, WaitReady, Watch, FleetHandover };

struct BusRequest {
    BusVerb verb = BusVerb::Status;
    BusTarget target;
    bool json = false;
    std::optional<std::chrono::microseconds> timeout; // --timeout; else the command's default
    std::string reason;                               // replace, restart, start, stop
    std::optional<std::uint64_t> if_generation;       // replace, restart, start, stop
    std::uint64_t newer_than = 0;                     // wait-ready
    std::string to;                                   // fleet handover: the host to lead next
};

// The module's one exported function: runs the command, returns the exit code.
inline constexpr const char* kBusModuleEntry = "hgw_ctl_bus_main_v1";
using BusModuleEntry = int (*)(const BusRequest* request, std::size_t request_size);

} // namespace hgw::cli
