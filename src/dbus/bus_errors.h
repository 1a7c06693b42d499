#pragma once
// Named D-Bus errors of org.hermes.Gateway1, and the mapping from the
// supervisor's operation errors to them.

#include "daemon/supervisor.h"

#include <sdbus-c++/Error.h>

#include <string>
#include <string_view>
#include <utility>

namespace hgw::bus {

inline constexpr const char* kErrAccessDenied = "org.hermes.Gateway1.Error.AccessDenied";
inline constexpr const char* kErrBusy = "org.hermes.Gateway1.Error.Busy";
inline constexpr const char* kErrTimeout = "org.hermes.Gateway1.Error.Timeout";
inline constexpr const char* kErrNotRunning = "org.hermes.Gateway1.Error.NotRunning";
inline constexpr const char* kErrGenerationMismatch = "org.hermes.Gateway1.Error.GenerationMismatch";
inline constexpr const char* kErrInvalidArgs = "org.hermes.Gateway1.Error.InvalidArgs";
inline constexpr const char* kErrStartFailed = "org.hermes.Gateway1.Error.StartFailed";
inline constexpr const char* kErrCannotStart = "org.hermes.Gateway1.Error.CannotStart";
inline constexpr const char* kErrFailed = "org.hermes.Gateway1.Error.Failed";

// The D-Bus error for a failed operation (r.ok() must be false).
sdbus::Error to_bus_error(const daemon::OpResult& r);

// The exception being handled, as an sdbus::Error: an sdbus::Error stays
// itself, anything else becomes kErrFailed with "context: what()". Call
// only inside a catch block.
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
