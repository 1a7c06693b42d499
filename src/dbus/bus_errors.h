#pragma once
// The mapping from the supervisor's operation errors to the named D-Bus
// errors of org.hermes.Gateway1 (HGW_BUS_ERROR_*, util/bus_names.h).

#include "daemon/supervisor.h"
#include "util/bus_names.h"

#include <sdbus-c++/Error.h>

#include <string>
#include <string_view>
#include <utility>

namespace hgw::bus {

// The D-Bus error for a failed operation (r.ok() must be false).
sdbus::Error to_bus_error(const daemon::OpResult& r);

// The exception being handled, as an sdbus::Error: an sdbus::Error stays
// itself, anything else becomes HGW_BUS_ERROR_FAILED with "context:
// what()". Call only inside a catch block.
sdbus::Error current_exception_as_bus_error(std::string_view context);

// Runs a D-Bus handler body so that only sdbus::Error leaves it:
// sdbus-c++ 1.2 calls std::terminate for any other exception that reaches it.
template <typename F>
decltype(auto) guard_handler(std::string_view context, F&& body)
{
    try {
        return std::forward<F>(body)();
    } catch (...) {
        throw current_exception_as_bus_error(context);
    }
}

} // namespace hgw::bus
