#pragma once
// This process's environment as a map, to edit before handing it on.

#include <map>
#include <string>

namespace hgw {

// NAME=VALUE pairs of environ; entries without '=' are left out.
std::map<std::string, std::string> current_environment();

} // namespace hgw
