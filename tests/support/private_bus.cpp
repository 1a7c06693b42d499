#include "support/private_bus.h"

#include "process/pidfd.h"
#include "support/child_process.h"

#include <sdbus-c++/sdbus-c++.h>

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hgw::test {

namespace {

// tests/support/private_bus.conf, for this socket, with a servicedir if
// one is given.
std::string bus_config(const std::string& socket_path, const std::filesystem::path& service_dir)
{
    std::string config = read_source("tests/support/private_bus.conf");
    auto replace = [&config](const std::string& what, const std::string& with) {
        auto at = config.find(what);
        if (at == std::string::npos)
            throw std::runtime_error("tests/support/private_bus.conf has no " + what);
        config.replace(at, what.size(), with);
    };
    replace("@SOCKET@", socket_path);
    if (!service_dir.empty())
        replace("  <listen>", "  <servicedir>" + service_dir.string() + "</servicedir>\n  <listen>");
    return config;
}

TempHome bus_dir(const std::filesystem::path& parent)
{
    if (parent.empty())
        return TempHome(std::filesystem::temp_directory_path(), "hgw-bus");
    return TempHome(parent, "hgw-bus");
}

} // namespace

PrivateBus::PrivateBus(const std::filesystem::path& service_dir, const std::filesystem::path& parent)
    : dir_(bus_dir(parent)), config_(dir_.dir() / "bus.conf")
{
    std::ofstream(config_) << bus_config((dir_.dir() / "bus.socket").string(), service_dir);
    start();
}

void PrivateBus::start()
{
    if (pid_ > 0)
        throw std::logic_error("PrivateBus::start: the bus runs already");
    RunResult r = run({"/usr/bin/dbus-daemon", "--config-file=" + config_.string(), "--fork", "--print-address=1",
                       "--print-pid=1"});
    std::istringstream lines(r.output);
    std::string address, pid_line;
    if (r.exit_code != 0 || !std::getline(lines, address) || !std::getline(lines, pid_line))
        throw std::runtime_error("dbus-daemon failed to start: " + r.output);
    // "unix:path=...,guid=...": the guid changes with every start; a client
    // that names one refuses a bus with another.
    if (auto guid = address.find(",guid="); guid != std::string::npos)
        address.erase(guid);
    const pid_t pid = std::stoi(pid_line);
    // Pinned now, while it certainly is the bus that printed this PID: it
    // forked away from us, so no wait of ours keeps its PID from reuse.
    UniqueFd pidfd(hgw::pidfd_open(pid));
    if (!pidfd)
        throw std::runtime_error("pidfd_open of dbus-daemon " + pid_line + ": " + std::strerror(errno));
    address_ = address;
    pid_ = pid;
    pidfd_ = std::move(pidfd);
}

void PrivateBus::stop(int sig)
{
    if (pid_ <= 0)
        return;
    // Wait until it is gone: it unlinks its socket on the way out (on
    // SIGTERM), and a directory walk that loses an entry midway stops and
    // leaves the directory behind.
    hgw::pidfd_send_signal(pidfd_.get(), sig);
    pollfd p{pidfd_.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(kTimeout.count()));
    pidfd_.reset();
    pid_ = 0;
}

PrivateBus::~PrivateBus()
{
    try {
        stop(SIGTERM);
    } catch (...) {
        // A destructor must not throw.
    }
}

std::unique_ptr<sdbus::IConnection> PrivateBus::connect() const
{
    return sdbus::createSessionBusConnectionWithAddress(address_);
}

} // namespace hgw::test
