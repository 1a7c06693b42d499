#pragma once
// What the daemon tells systemd (sd_notify to $NOTIFY_SOCKET). A no-op when
// not run by systemd.

#include <chrono>
#include <optional>
#include <string>

namespace hgw::daemon {

class SystemdNotifier {
public:
    SystemdNotifier();

    [[nodiscard]] bool enabled() const { return enabled_; }
    // WATCHDOG_USEC for us (if WATCHDOG_PID is ours), or nothing.
    [[nodiscard]] std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

    void ready(const std::string& status);
    void status(const std::string& status);
    void reloading(const std::string& status); // RELOADING=1 + MONOTONIC_USEC=
    void stopping(const std::string& status);
    void watchdog();
    void extend_timeout(std::chrono::microseconds by);

private:
    void send(const std::string& text);
    bool enabled_ = false;
    std::optional<std::chrono::microseconds> watchdog_;
};

} // namespace hgw::daemon
