#include "dbus/options.h"

#include "dbus/bus_errors.h"

#include <sdbus-c++/Error.h>

#include <cstdint>
#include <limits>

namespace hgw::bus {

namespace {

[[noreturn]] void invalid(const std::string& message)
{
    throw sdbus::Error(HGW_BUS_ERROR_INVALID_ARGS, message);
}

// The value of `key`, after checking that the caller sent type `T`.
// `type_text` is for the message, e.g. "t (uint64)".
template <typename T>
T value_of(const std::string& key, const sdbus::Variant& value, const char* type_text)
{
    if (!value.containsValueOfType<T>())
        invalid("option '" + key + "' must be of type " + type_text + ", not '" + value.peekValueType() + "'");
    return value.get<T>();
}

daemon::microseconds timeout_from(std::uint64_t usec)
{
    using Rep = daemon::microseconds::rep;
    if (usec > static_cast<std::uint64_t>(std::numeric_limits<Rep>::max()))
        invalid("option 'timeout_usec' is too large: " + std::to_string(usec));
    return daemon::microseconds(static_cast<Rep>(usec));
}

} // namespace

daemon::OpOptions parse_op_options(const VariantMap& options, std::string_view more_known)
{
    daemon::OpOptions out;
    for (const auto& [key, value] : options) {
        if (key == "reason") {
            out.reason = value_of<std::string>(key, value, "s (string)");
            if (out.reason.size() > kMaxReasonBytes)
                invalid("option 'reason' is longer than " + std::to_string(kMaxReasonBytes) + " bytes");
        } else if (key == "timeout_usec") {
            auto usec = value_of<std::uint64_t>(key, value, "t (uint64)");
            // 0 asks for the daemon's configured timeout.
            if (usec != 0)
                out.timeout = timeout_from(usec);
        } else if (key == "if_generation") {
            out.if_generation = value_of<std::uint64_t>(key, value, "t (uint64)");
        } else {
            invalid("unknown option '" + key + "': known options are " +
                    (more_known.empty() ? std::string() : std::string(more_known) + ", ") +
                    "reason (s), timeout_usec (t) and if_generation (t)");
        }
    }
    return out;
}

HandoverOptions parse_handover_options(const VariantMap& options)
{
    VariantMap rest = options;
    HandoverOptions out;
    if (auto to = rest.extract(HGW_BUS_OPTION_HANDOVER_TO)) {
        out.to = value_of<std::string>(to.key(), to.mapped(), "s (string)");
        if (out.to.empty())
            invalid("option '" HGW_BUS_OPTION_HANDOVER_TO "' names no host (leave it out to hand over to the next in line)");
    }
    out.op = parse_op_options(rest, HGW_BUS_OPTION_HANDOVER_TO " (s)");
    return out;
}

} // namespace hgw::bus
