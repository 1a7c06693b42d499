#pragma once
// A connection to hermes-gatewayd's Manager object over sd-bus, on one
// thread: calls, the daemon's signals and the owner of its bus name are
// all dispatched in the order the bus sent them, so a signal sent before a
// reply is always handled before it.
//
// Nothing is waited for that need not be: subscribing, asking for the
// name's owner and a method call can all be on their way at once.

#include "cli/bus/bus_errors.h"
#include "cli/bus/message_json.h"
#include "cli/bus/sd_bus_ptr.h"
#include "cli/bus_request.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace hgw::cli {

// A signal of the daemon, or a change of its name's owner, as received.
struct BusEvent {
    std::int64_t received_usec = 0; // CLOCK_REALTIME
    // StateChanged, Replaced, GatewayExited, PidFileRepaired, PropertiesChanged
    // (the Manager interface's only), DaemonAppeared or DaemonVanished.
    std::string name;
    Json args; // the signal's arguments by their names in the XML
};

// The a{sv} options of Replace, Restart, Start and Stop.
struct CallOptions {
    std::string reason; // empty: not sent
    std::optional<std::uint64_t> timeout_usec;
    std::optional<std::uint64_t> if_generation;
    std::string to; // FleetHandover's; empty: not sent
};

// A method call on its way; `reply` is set when its answer (or error) came.
struct PendingReply {
    SlotPtr slot; // dropping it drops the reply
    MessagePtr reply;
};

enum class WaitEnd { Done, Deadline, OtherFd };

// Throws the BusCallError an answer carries, if it is an error.
void throw_if_error(sd_bus_message* answer);

class GatewayClient {
public:
    using EventHandler = std::function<void(const BusEvent&)>;

    // Opens the bus. Throws BusUnavailable if it cannot be opened.
    explicit GatewayClient(const BusTarget& target);
    GatewayClient(const GatewayClient&) = delete;
    GatewayClient& operator=(const GatewayClient&) = delete;

    // Subscribes to the daemon's signals and to NameOwnerChanged for its
    // name, then asks who owns the name: all sent at once, in that order, so
    // that no change after the answer goes unseen. Events reach `on_event`
    // as they are dispatched; signals from anyone but the name's owner (the
    // daemon of another profile serves the same path) are dropped.
    void subscribe(EventHandler on_event);
    // Dispatches until the answers to subscribe() are in. Throws
    // BusCallError if a subscription or the owner query was refused.
    void settle(std::chrono::microseconds timeout);
    // Whether the daemon's name has an owner, as last known.
    [[nodiscard]] bool daemon_present() const { return !owner_.empty(); }

    // GetStatus, waiting for the reply: its a{sv} as a JSON object. Events
    // that arrive meanwhile are dispatched later, by run_until().
    Json get_status(std::chrono::microseconds timeout);

    // Sends Replace, Restart, Start or Stop without waiting. None of the
    // calls starts the daemon by D-Bus activation: if it does not run, the
    // bus answers ServiceUnknown instead.
    std::unique_ptr<PendingReply> call_async(const char* method, const CallOptions& options,
                                             std::chrono::microseconds timeout);

    // Dispatches what arrives until `done()` holds, `deadline` passes or
    // `other_fd` (if >= 0) turns readable. Throws std::runtime_error if the
    // connection is lost first.
    WaitEnd run_until(const std::function<bool()>& done, std::optional<Clock::time_point> deadline,
                      int other_fd = -1);

    [[nodiscard]] const BusTarget& target() const { return target_; }

private:
    static int on_match_installed(sd_bus_message* m, void* userdata, sd_bus_error* error);
    static int on_owner_reply(sd_bus_message* m, void* userdata, sd_bus_error* error);
    static int on_manager_signal(sd_bus_message* m, void* userdata, sd_bus_error* error);
    static int on_properties_changed(sd_bus_message* m, void* userdata, sd_bus_error* error);
    static int on_name_owner_changed(sd_bus_message* m, void* userdata, sd_bus_error* error);

    MessagePtr new_call(const char* member);
    void deliver(BusEvent event, const char* sender);

    BusTarget target_;
    BusPtr bus_;
    EventHandler on_event_;
    std::string owner_;      // unique name of the daemon; empty when absent
    int unanswered_ = 0;     // subscriptions and owner query not answered yet
    std::optional<BusCallError> refused_; // the first of them refused
};

} // namespace hgw::cli
