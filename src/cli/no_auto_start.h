#pragma once
// Method calls that must not start their destination by D-Bus activation.

#include <sdbus-c++/Message.h>

namespace hgw::cli {

// Clears the call's auto-start flag: if no one owns the destination name,
// the bus answers ServiceUnknown instead of starting the service.
void forbid_auto_start(sdbus::MethodCall& call);

} // namespace hgw::cli
