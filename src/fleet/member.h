#pragma once
// What a daemon's key in the fleet's line holds: who it is, as JSON
// {"host": ..., "pid": ...}, read by the other hosts for their status and
// by a leader asked to hand over to a named host.

#include <string>
#include <string_view>

namespace hgw::fleet {

std::string member_value(const std::string& host, long pid);
// The host a key's value names; empty when the value is not a member's.
std::string member_host(std::string_view value);
// "host (daemon pid N)"; the raw value when it is not a member's.
std::string describe_member(std::string_view value);

} // namespace hgw::fleet
