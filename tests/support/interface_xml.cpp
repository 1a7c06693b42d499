#include "support/interface_xml.h"

#include "support/child_process.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace hgw::test {

namespace {

constexpr const char* kPyMembers = R"PY(
import sys
import xml.etree.ElementTree as ET
EMITS = 'org.freedesktop.DBus.Property.EmitsChangedSignal'
def args(node, direction=None):
    return ','.join('%s:%s' % (a.get('name'), a.get('type')) for a in node.findall('arg')
                    if direction is None or a.get('direction', 'in') == direction)
root = ET.parse(sys.argv[1]).getroot()
for iface in root.iter('interface'):
    if iface.get('name') != sys.argv[2]:
        continue
    for m in iface.findall('method'):
        print('method %s in=%s out=%s' % (m.get('name'), args(m, 'in'), args(m, 'out')))
    for p in iface.findall('property'):
        emits = 'true'
        for a in p.findall('annotation'):
            if a.get('name') == EMITS:
                emits = a.get('value')
        print('property %s type=%s access=%s emits=%s' % (p.get('name'), p.get('type'), p.get('access'), emits))
    for s in iface.findall('signal'):
        print('signal %s args=%s' % (s.get('name'), args(s)))
)PY";

} // namespace

std::vector<std::string> interface_members(const std::string& xml_file, const std::string& interface)
{
    RunResult r = run({"/usr/bin/python3", "-I", "-c", kPyMembers, xml_file, interface});
    if (r.exit_code != 0)
        throw std::runtime_error("cannot read the members of " + interface + " in " + xml_file + ": " + r.output);
    std::vector<std::string> lines;
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
}

std::vector<std::string> member_names(const std::vector<std::string>& members, const std::string& kind)
{
    std::vector<std::string> names;
    const std::string prefix = kind + " ";
    for (const auto& line : members) {
        if (line.rfind(prefix, 0) != 0)
            continue;
        auto end = line.find(' ', prefix.size());
        names.push_back(line.substr(prefix.size(), end == std::string::npos ? std::string::npos : end - prefix.size()));
    }
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace hgw::test
