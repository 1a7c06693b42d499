#pragma once
// What can go wrong talking to hermes-gatewayd, and how each outcome is
// told to the user: a message on stderr and an exit code.

#include "cli/bus_request.h"

#include <chrono>
#include <stdexcept>
#include <string>

namespace hgw::cli {

// The bus could not be opened at all: no daemon can be reached through it.
class BusUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A D-Bus error reply (from the daemon, the bus, or sd-bus itself for a
// timeout or a lost connection), by its name and message.
class BusCallError : public std::runtime_error {
public:
    BusCallError(std::string name, std::string message)
        : std::runtime_error(name + ": " + message), name_(std::move(name)), message_(std::move(message))
    {
    }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] const std::string& message() const { return message_; }

private:
    std::string name_;
    std::string message_;
};

struct Failure {
    int code;
    std::string message;
};

using Clock = std::chrono::steady_clock;

// What a call was for, to explain its failure.
struct CallContext {
    BusTarget target;
    std::string action; // "replace the gateway"
    std::chrono::microseconds reply_timeout{};
    Clock::time_point started = Clock::now();
};

// "the system bus", "the user bus", "the bus at ADDR": for messages.
std::string describe_bus(const BusTarget& target);

std::string not_running_message(const BusTarget& target);

// The exit code and message for an error reply to a call.
Failure explain(const BusCallError& e, const CallContext& c);

// Prints the failure's message on stderr; its exit code.
int report(const Failure& f);

} // namespace hgw::cli
