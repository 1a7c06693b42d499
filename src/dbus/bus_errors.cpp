#include "dbus/bus_errors.h"

#include "util/errors.h"

#include <exception>

namespace hgw::bus {

sdbus::Error to_bus_error(const daemon::OpResult& r)
{
    using daemon::OpError;
    const char* name = HGW_BUS_ERROR_FAILED;
    switch (r.error) {
    case OpError::Busy: name = HGW_BUS_ERROR_BUSY; break;
    case OpError::Timeout: name = HGW_BUS_ERROR_TIMEOUT; break;
    case OpError::NotRunning: name = HGW_BUS_ERROR_NOT_RUNNING; break;
    case OpError::GenerationMismatch: name = HGW_BUS_ERROR_GENERATION_MISMATCH; break;
    case OpError::StartFailed: name = HGW_BUS_ERROR_START_FAILED; break;
    case OpError::CannotStart: name = HGW_BUS_ERROR_CANNOT_START; break;
    case OpError::None:
    case OpError::Failed: name = HGW_BUS_ERROR_FAILED; break;
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
        return sdbus::Error(HGW_BUS_ERROR_FAILED, prefix + describe(e));
    } catch (const std::exception& e) {
        return sdbus::Error(HGW_BUS_ERROR_FAILED, prefix + e.what());
    } catch (...) {
        return sdbus::Error(HGW_BUS_ERROR_FAILED, prefix + "unknown error");
    }
}

} // namespace hgw::bus
