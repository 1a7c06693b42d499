#pragma once
// D-Bus values as text, for assertions and messages: what a property or a
// GetStatus field holds, whatever its type.

#include <sdbus-c++/Types.h>

#include <string>

namespace hgw::test {

// s as is, u t i as numbers, b as true/false, (si) as "kind,status", as
// joined by spaces; any other type as "<signature>".
std::string variant_text(const sdbus::Variant& v);

} // namespace hgw::test
