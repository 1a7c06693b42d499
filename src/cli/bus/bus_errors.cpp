#include "cli/bus/bus_errors.h"

#include "cli/exit_codes.h"
#include "cli/output.h"
#include "util/bus_names.h"
#include "util/duration.h"

#include <systemd/sd-bus-protocol.h>


namespace hgw::cli {

namespace {

using namespace std::chrono_literals;

std::string with_detail(std::string text, const std::string& detail)
{
    if (!detail.empty())
        text += ": " + detail;
    return text;
}

} // namespace

std::string describe_bus(const BusTarget& target)
{
    switch (target.kind) {
    case BusKind::System: return "the system bus";
    case BusKind::User: return "the user bus";
    case BusKind::Address: return "the bus at " + target.address;
    }
    return "the bus";
}

std::string not_running_message(const BusTarget& t)
{
    std::string bus = t.kind == BusKind::System ? "system bus" : t.kind == BusKind::User ? "user bus" : "bus at " + t.address;
    return "hermes-gatewayd is not running on the " + bus + " (name " + t.bus_name + ")";
}

Failure explain(const BusCallError& e, const CallContext& c)
{
    namespace x = exit_codes;
    const std::string& name = e.name();
    const std::string& msg = e.message();

    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" || name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        return {x::kNoDaemon, not_running_message(c.target)};
    if (name == HGW_BUS_ERROR_ACCESS_DENIED)
        return {x::kAccessDenied, with_detail("permission denied: may not " + c.action, msg)};
    if (name == SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)
        return {x::kAccessDenied, with_detail("permission denied: authentication is required to " + c.action, msg)};
    if (name == "org.freedesktop.DBus.Error.AccessDenied")
        return {x::kAccessDenied, with_detail("permission denied by the bus policy", msg)};
    if (name == HGW_BUS_ERROR_BUSY)
        return {x::kBusy, with_detail("cannot " + c.action + " now: another operation is in progress", msg)};
    if (name == HGW_BUS_ERROR_TIMEOUT)
        return {x::kTimeout, with_detail("timed out trying to " + c.action, msg)};
    if (name == HGW_BUS_ERROR_NOT_RUNNING)
        return {x::kNotRunning, with_detail("cannot " + c.action + ": the gateway is not running", msg)};
    if (name == HGW_BUS_ERROR_GENERATION_MISMATCH)
        return {x::kGenerationMismatch, with_detail("not done: the gateway's generation has changed", msg)};
    if (name == HGW_BUS_ERROR_INVALID_ARGS || name == "org.freedesktop.DBus.Error.InvalidArgs")
        return {x::kInvalidArgs, with_detail("invalid arguments", msg)};
    if (name == HGW_BUS_ERROR_START_FAILED)
        return {x::kStartFailed, with_detail("the gateway failed to start", msg)};
    if (name == HGW_BUS_ERROR_CANNOT_START)
        return {x::kCannotStart,
                with_detail("cannot " + c.action + ": refused; nothing that runs was touched", msg)};
    if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout") {
        // sd-bus reports its own timeout as NoReply too; the bus reports a
        // daemon that died mid-call the same way. Our clock tells them apart.
        if (Clock::now() - c.started >= c.reply_timeout - 100ms)
            return {x::kTimeout, "no answer from hermes-gatewayd within " + format_duration(c.reply_timeout) +
                                     " (it may still be working: see `hermes-gatewayctl status`)"};
        return {x::kFailed, with_detail("hermes-gatewayd went away before answering; the outcome is unknown", msg)};
    }
    if (name.rfind(HGW_BUS_ERROR_PREFIX, 0) == 0)
        return {x::kFailed, with_detail("cannot " + c.action, msg)};
    return {x::kFailed, with_detail("cannot " + c.action, name + ": " + msg)};
}

int report(const Failure& f)
{
    print_error("hermes-gatewayctl: " + f.message + "\n");
    return f.code;
}

} // namespace hgw::cli
