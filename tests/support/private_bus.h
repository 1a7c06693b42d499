#pragma once
// A private dbus-daemon for tests and benchmarks: a session-type bus that
// admits every uid (so setpriv'd callers can reach it), can be stopped and
// started again on the same socket, as when the system bus restarts, and is
// ended by the pidfd opened when it started, never by a PID alone.

#include "support/temp_home.h"
#include "util/unique_fd.h"

#include <sdbus-c++/IConnection.h>

#include <signal.h>
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

namespace hgw::test {

class PrivateBus {
public:
    // With a service_dir, the bus starts the services whose activation
    // files are in it (D-Bus activation), as the system bus does. Its
    // configuration and socket go in a directory of its own, made in
    // `parent` (default: the temporary directory) and removed with it.
    explicit PrivateBus(const std::filesystem::path& service_dir = {}, const std::filesystem::path& parent = {});
    ~PrivateBus();
    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;

    // unix:path=<socket>, without the bus's guid: the address stays valid
    // across restart(), which gives the bus a new guid.
    [[nodiscard]] const std::string& address() const { return address_; }
    [[nodiscard]] std::unique_ptr<sdbus::IConnection> connect() const;
    // The dbus-daemon's PID; 0 while stopped.
    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool running() const { return pid_ > 0; }

    // Ends the dbus-daemon (with `sig`; SIGKILL leaves its socket file behind,
    // as a crash does) and waits until it is gone. Every connection to it
    // breaks. Does nothing if it is not running.
    void stop(int sig = SIGTERM);
    // Starts a dbus-daemon again on the same socket path and configuration
    // (a new process, a new guid, no connections, no names).
    void start();
    void restart(int sig = SIGTERM)
    {
        stop(sig);
        start();
    }

private:
    TempHome dir_;
    std::filesystem::path config_;
    std::string address_;
    pid_t pid_ = 0;
    UniqueFd pidfd_;
};

} // namespace hgw::test
