#pragma once
// The client side of org.hermes.Gateway1: which bus and name to talk to, and
// a connection to the daemon that reports its signals as they arrive.

#include "core/profile.h"
#include <sdbus-c++/sdbus-c++.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

namespace hgw::cli {

inline constexpr const char* kGatewayObjectPath = "/org/hermes/Gateway1";
inline constexpr const char* kGatewayInterface = "org.hermes.Gateway1.Manager";

enum class BusKind { System, User, Address };

struct BusTarget {
    BusKind kind = BusKind::System;
    std::string address;  // for BusKind::Address
    std::string bus_name; // org.hermes.Gateway1[.profile]
};


// "the system bus", "the user bus", "the bus at ADDR": for messages.
std::string describe_bus(const BusTarget& target);

// The bus could not be opened at all: no daemon can be reached through it.
class BusUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A signal of the daemon, or a change of its name's owner, as received.
struct BusEvent {
    std::int64_t received_usec = 0; // CLOCK_REALTIME
    // StateChanged, Replaced, GatewayExited, PidFileRepaired, PropertiesChanged
    // (the Manager interface's only), DaemonAppeared or DaemonVanished.
    std::string name;
    nlohmann::ordered_json args; // the signal's arguments by their names in the XML
};

// Any D-Bus value as JSON: basic types, arrays, structs as arrays, dicts as objects.
nlohmann::ordered_json variant_to_json(const sdbus::Variant& v);

// A connection to hermes-gatewayd's Manager object.
//
// With `on_event`, the client subscribes to the daemon's signals and to
// NameOwnerChanged for its name before anything else, so that a read made
// afterwards cannot miss a change; the events are delivered on the bus thread
// once start() runs it. Without it, the client only makes calls.
class GatewayClient {
public:
    using EventHandler = std::function<void(const BusEvent&)>;

    // Throws BusUnavailable if the bus cannot be opened.
    GatewayClient(const BusTarget& target, EventHandler on_event = {});
    ~GatewayClient();
    GatewayClient(const GatewayClient&) = delete;
    GatewayClient& operator=(const GatewayClient&) = delete;

    // Runs the bus thread, which delivers events and replies. Calls made
    // afterwards from another thread block until the bus thread has their reply.
    void start();

    // Whether the daemon's name has an owner, as last known.
    [[nodiscard]] bool daemon_present() const;
    [[nodiscard]] const BusTarget& target() const { return target_; }

    // The calls. `timeout` bounds the wait for the reply (sd-bus then reports
    // org.freedesktop.DBus.Error.NoReply or .Timeout). They never start the
    // daemon by D-Bus activation (ServiceUnknown if it does not run). They
    // throw sdbus::Error.
    std::map<std::string, sdbus::Variant> get_status(std::chrono::microseconds timeout);
    // Replace, Restart or Start: the new gateway's pid and generation.
    std::tuple<std::uint32_t, std::uint64_t> call_start_like(const std::string& method,
                                                             const std::map<std::string, sdbus::Variant>& options,
                                                             std::chrono::microseconds timeout);
    void stop(const std::map<std::string, sdbus::Variant>& options, std::chrono::microseconds timeout);

private:
    class Proxy;

    void deliver(BusEvent event, const std::string& sender);
    void on_name_owner_changed(sdbus::Message& msg);
    void query_owner();

    BusTarget target_;
    EventHandler on_event_;
    mutable std::mutex owner_mutex_;
    std::string owner_; // unique name of the daemon; empty when absent
    // Declared in this order so that the proxy and the match go before the connection.
    std::unique_ptr<sdbus::IConnection> connection_;
    sdbus::Slot owner_match_;
    std::unique_ptr<Proxy> proxy_;
    std::unique_ptr<sdbus::IProxy> driver_; // the bus driver, to see the bus thread run (start())
    bool loop_running_ = false;
};

} // namespace hgw::cli
