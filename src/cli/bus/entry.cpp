// The module's entry point, called by the front end (cli/bus_module.cpp)
// once it has parsed a bus command.

#include "cli/bus/bus_errors.h"
#include "cli/bus/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"


namespace hgw::cli {

namespace {

int run_request(const BusRequest& r)
{
    switch (r.verb) {
    case BusVerb::Status: return run_status(r);
    case BusVerb::Replace:
    case BusVerb::Restart:
    case BusVerb::Start:
    case BusVerb::Stop:
    case BusVerb::FleetHandover: return run_lifecycle(r);
    case BusVerb::WaitReady: return run_wait_ready(r);
    case BusVerb::Watch: return run_watch(r);
    }
    return report({exit_codes::kFailed, "unknown bus command"});
}

// Nothing may unwind into the front end: what a command throws becomes a
// message and an exit code here.
int guarded(const BusRequest& r) noexcept
{
    try {
        return run_request(r);
    } catch (const BusUnavailable& e) {
        return report({exit_codes::kNoDaemon, e.what()});
    } catch (const BusCallError& e) {
        return report({exit_codes::kFailed, e.name() + ": " + e.message()});
    } catch (const std::exception& e) {
        return report({exit_codes::kFailed, e.what()});
    } catch (...) {
        return report({exit_codes::kFailed, "unknown error"});
    }
}

} // namespace

} // namespace hgw::cli

// Its name is kBusModuleEntry (cli/bus_request.h); the front end passes the
// size of its BusRequest, which must be ours.
extern "C" __attribute__((visibility("default"))) int hgw_ctl_bus_main_v1(const hgw::cli::BusRequest* request,
                                                                          std::size_t request_size)
{
    if (!request || request_size != sizeof(hgw::cli::BusRequest)) {
        hgw::cli::print_error("hermes-gatewayctl: the D-Bus client module is from another build of "
                              "hermes-gatewayctl (reinstall hermes-gatewayd)\n");
        return hgw::cli::exit_codes::kFailed;
    }
    return hgw::cli::guarded(*request);
}
