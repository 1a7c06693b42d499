#pragma once
// Ports for the servers a test starts on fixed ports (etcd members).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hgw::test {

// `count` distinct TCP ports, each free on every IPv4 address when probed,
// taken at random from the 12000 ports below the kernel's ephemeral range,
// so that no outgoing connection is given one between the probe and the
// server's bind. Another process can still take one first: whoever starts
// servers on them must start again on new ports when a bind fails.
std::vector<std::uint16_t> free_ports(std::size_t count);

} // namespace hgw::test
