#include "dbus/bus_errors.h"

#include "util/errors.h"

#include <exception>

namespace hgw::bus {

sdbus::Error to_bus_error(const daemon::OpResult& r)
{
    using daemon::OpError;
    const char* name = kErrFailed;
    switch (r.error) {
    case OpError::Busy: name = kErrBusy; break;
    case OpError::Timeout: name = kErrTimeout; break;
    case OpError::NotRunning: name = kErrNotRunning; break;
    case OpError::GenerationMismatch: name = kErrGenerationMismatch; break;
    case OpError::StartFailed: name = kErrStartFailed; break;
    case OpError::CannotStart: name = kErrCannotStart; break;
    case OpError::None:
    case OpError::Failed: name = kErrFailed; break;
    }
    return sdbus::Error(name, r.message);
}

sdbus::Error current_exception_as_bus_error(std::string_view context)
{
    std::string prefix = context.empty() ? std::string() : std::string(context) + ": ";
    try {
        throw;
    } catch (const sdbus::Error& e) {
        return e;
    } catch (const Error& e) {
        return sdbus::Error(kErrFailed, prefix + describe(e));
    } catch (const std::exception& e) {
        return sdbus::Error(kErrFailed, prefix + e.what());
    } catch (...) {
        return sdbus::Error(kErrFailed, prefix + "unknown error");
    }
}

} // namespace hgw::bus
