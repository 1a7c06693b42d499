#pragma once
// The members of one interface of a D-Bus introspection document (the
// interface's definition, dbus/org.hermes.Gateway1.xml, or what a daemon
// serves), one line each, sorted:
//   "method NAME in=name:type,... out=name:type,..."
//   "property NAME type=T access=A emits=E"  (EmitsChangedSignal, default true)
//   "signal NAME args=name:type,..."
// Read with python3's ElementTree. Throws std::runtime_error if it cannot.

#include <string>
#include <vector>

namespace hgw::test {

std::vector<std::string> interface_members(const std::string& xml_file, const std::string& interface);

// The NAME of every line of `members` of this kind ("method", "property" or
// "signal"), sorted.
std::vector<std::string> member_names(const std::vector<std::string>& members, const std::string& kind);

} // namespace hgw::test
