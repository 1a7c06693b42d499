#pragma once
// Small vocabulary shared by the D-Bus layer.

#include <sdbus-c++/Types.h>

#include <map>
#include <string>

namespace hgw::bus {

// An a{sv} dictionary: options in, status and evidence out.
using VariantMap = std::map<std::string, sdbus::Variant>;

} // namespace hgw::bus
