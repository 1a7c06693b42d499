// `hermes-gatewayctl status`: one GetStatus, printed.

#include "cli/bus/commands.h"

#include "cli/bus/gateway_client.h"
#include "cli/bus/render.h"
#include "cli/exit_codes.h"
#include "cli/output.h"


namespace hgw::cli {

namespace {

// running and ready: 0; failed (needs a person): 1; anything else, waiting
// and foreign included (no gateway of ours serves, the daemon keeps trying): 3.
int status_exit_code(const Json& s)
{
    const std::string state = str(s, "state");
    if (state == "running" && flag(s, "ready"))
        return exit_codes::kOk;
    if (state == "failed")
        return exit_codes::kFailed;
    return exit_codes::kNotRunning;
}

} // namespace

int run_status(const BusRequest& r)
{
    CallContext ctx{r.target, "read the gateway's status", r.timeout.value_or(kQuickReplyTimeout)};
    // No subscription and no owner query: a daemon that is not there makes
    // the call itself fail with ServiceUnknown, which says the same.
    GatewayClient client(ctx.target);
    Json status;
    try {
        status = client.get_status(ctx.reply_timeout);
    } catch (const BusCallError& e) {
        return report(explain(e, ctx));
    }
    if (r.json)
        print(status.dump() + "\n");
    else
        print_status(status, ctx.target);
    return status_exit_code(status);
}

} // namespace hgw::cli
