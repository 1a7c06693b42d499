// `hermes-gatewayctl replace|restart|start|stop`: one call that waits for
// the whole operation, with the daemon's signals printed as it goes.

#include "cli/bus/commands.h"

#include "cli/bus/gateway_client.h"
#include "cli/bus/render.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "util/bus_names.h"

#include <stdexcept>

namespace hgw::cli {

namespace {

struct Lifecycle {
    BusVerb verb;
    const char* method; // "Replace"
    const char* action; // "replace the gateway"
    const char* done;   // "replaced"
};

constexpr Lifecycle kLifecycles[] = {
    {BusVerb::Replace, HGW_BUS_METHOD_REPLACE, "replace the gateway", "replaced"},
    {BusVerb::Restart, HGW_BUS_METHOD_RESTART, "restart the gateway", "restarted"},
    {BusVerb::Start, HGW_BUS_METHOD_START, "start the gateway", "started"},
    {BusVerb::Stop, HGW_BUS_METHOD_STOP, "stop the gateway", "stopped"},
    {BusVerb::FleetHandover, HGW_BUS_METHOD_FLEET_HANDOVER, "hand the fleet's lead over", "handed over"},
};

const Lifecycle& lifecycle_of(BusVerb verb)
{
    for (const Lifecycle& l : kLifecycles)
        if (l.verb == verb)
            return l;
    throw std::invalid_argument("not a lifecycle command");
}

CallOptions call_options(const BusRequest& r)
{
    CallOptions o;
    o.reason = r.reason;
    if (r.timeout)
        o.timeout_usec = static_cast<std::uint64_t>(r.timeout->count());
    o.if_generation = r.if_generation;
    o.to = r.to;
    return o;
}

} // namespace

int run_lifecycle(const BusRequest& r)
{
    const Lifecycle& what = lifecycle_of(r.verb);
    CallContext ctx{r.target, what.action, r.timeout ? *r.timeout + kRollbackGrace : kLongReplyTimeout};
    const bool progress = !r.json;
    bool answered = false;

    GatewayClient client(ctx.target);
    // Subscribed before the call, so that no step of the operation goes
    // unseen; the owner query, the subscriptions and the call travel
    // together. A daemon that is not there fails the call with
    // ServiceUnknown, which explain() reports as "not running". A refused
    // subscription costs the progress lines only, not the operation.
    client.subscribe([&](const BusEvent& e) {
        if (progress && !answered && e.name != "PropertiesChanged")
            print_line_flushed(event_line(e));
    });
    ctx.started = Clock::now();
    auto pending = client.call_async(what.method, call_options(r), ctx.reply_timeout);
    client.run_until([&] { return pending->reply != nullptr; }, std::nullopt);
    answered = true; // signals after the reply are not part of this operation's story

    std::uint32_t pid = 0;
    std::uint64_t generation = 0;
    const bool is_stop = r.verb == BusVerb::Stop || r.verb == BusVerb::FleetHandover; // no gateway to name
    try {
        throw_if_error(pending->reply.get());
    } catch (const BusCallError& e) {
        return report(explain(e, ctx));
    }
    if (!is_stop && sd_bus_message_read(pending->reply.get(), "ut", &pid, &generation) < 0)
        throw std::runtime_error(std::string("unexpected answer to ") + what.method + " (want a pid and a generation)");

    if (r.json) {
        Json j;
        j["result"] = what.done;
        if (!is_stop) {
            j["pid"] = pid;
            j["generation"] = generation;
        }
        print(j.dump() + "\n");
    } else if (is_stop) {
        print(std::string(what.done) + "\n");
    } else {
        print(std::string(what.done) + ": pid " + std::to_string(pid) + ", generation " + std::to_string(generation) +
              "\n");
    }
    return exit_codes::kOk;
}

} // namespace hgw::cli
