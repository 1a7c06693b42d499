// `hermes-gatewayctl wait-ready`: read the status, and again whenever the
// daemon says something changed, until a gateway is running and ready.

#include "cli/bus/commands.h"

#include "cli/bus/gateway_client.h"
#include "cli/bus/render.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "util/bus_names.h"
#include "util/duration.h"


namespace hgw::cli {

namespace {

using std::chrono::microseconds;

bool is_ready(const Json& s)
{
    return str(s, "state") == "running" && flag(s, "ready");
}

bool daemon_gone(const BusCallError& e)
{
    return e.name() == "org.freedesktop.DBus.Error.ServiceUnknown" ||
           e.name() == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
           // The daemon exited while answering (it may come back), or the
           // read itself timed out: either way, wait for news or the deadline.
           e.name() == "org.freedesktop.DBus.Error.NoReply" || e.name() == "org.freedesktop.DBus.Error.Timeout";
}

} // namespace

int run_wait_ready(const BusRequest& r)
{
    const microseconds limit = r.timeout.value_or(kLongReplyTimeout);
    CallContext ctx{r.target, "read the gateway's status", kQuickReplyTimeout};
    bool changed = false;
    // Subscribe first, then read: a change after the read raises the flag.
    GatewayClient client(ctx.target);
    client.subscribe([&changed](const BusEvent& e) {
        if (e.name != HGW_BUS_SIGNAL_PID_FILE_REPAIRED)
            changed = true;
    });
    client.settle(kQuickReplyTimeout);
    if (!client.daemon_present())
        return report({exit_codes::kNoDaemon, not_running_message(ctx.target)});

    const Clock::time_point deadline = Clock::now() + limit;
    std::string last_state = "unknown";
    for (;;) {
        // Lowered before the read: what arrives during it is dispatched
        // afterwards and raises the flag again.
        changed = false;
        auto left = std::chrono::duration_cast<microseconds>(deadline - Clock::now());
        if (left > 0us) {
            try {
                ctx.reply_timeout = std::min(left, kQuickReplyTimeout);
                ctx.started = Clock::now();
                Json s = client.get_status(ctx.reply_timeout);
                last_state = str(s, "state");
                if (is_ready(s) && static_cast<std::uint64_t>(num(s, "generation")) > r.newer_than) {
                    if (r.json)
                        print(s.dump() + "\n");
                    else
                        print("ready: pid " + std::to_string(num(s, "pid")) + ", generation " +
                              std::to_string(num(s, "generation")) + "\n");
                    return exit_codes::kOk;
                }
            } catch (const BusCallError& e) {
                // The daemon went away (it may be restarted: its return raises
                // the flag), or our read timed out at the deadline.
                if (!daemon_gone(e))
                    return report(explain(e, ctx));
                last_state = "hermes-gatewayd not on the bus";
            }
        }
        if (client.run_until([&changed] { return changed; }, deadline) != WaitEnd::Done) {
            return report({exit_codes::kFailed, "timed out after " + format_duration(limit) +
                                                    " waiting for the gateway to be ready (state: " + last_state + ")"});
        }
    }
}

} // namespace hgw::cli
