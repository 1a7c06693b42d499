#include "support/free_ports.h"

#include "util/unique_fd.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace hgw::test {

namespace {

constexpr int kSpan = 12000;

int ephemeral_low()
{
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0;
    int high = 0;
    if (!(in >> low >> high) || low <= 1024)
        return 32768; // the kernel's default
    return low;
}

bool bindable(std::uint16_t port)
{
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    return fd && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

} // namespace

std::vector<std::uint16_t> free_ports(std::size_t count)
{
    const int high = ephemeral_low();
    const int low = std::max(1025, high - kSpan);
    std::mt19937 random(std::random_device{}());
    const int span = high - low;
    const int start = std::uniform_int_distribution<int>(0, span - 1)(random);
    std::vector<std::uint16_t> out;
    for (int i = 0; i < span && out.size() < count; ++i) {
        auto port = static_cast<std::uint16_t>(low + (start + i) % span);
        if (bindable(port))
            out.push_back(port);
    }
    if (out.size() < count)
        throw std::runtime_error("free_ports: fewer than " + std::to_string(count) + " free ports in " +
                                 std::to_string(low) + "-" + std::to_string(high - 1));
    return out;
}

} // namespace hgw::test
