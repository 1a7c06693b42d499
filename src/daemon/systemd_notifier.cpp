#include "daemon/systemd_notifier.h"

#include <systemd/sd-daemon.h>

#include <time.h>

#include <cstdint>
#include <cstdlib>

namespace hgw::daemon {

namespace {

// STATUS= ends at the first newline; anything after it would be read by
// systemd as further assignments, so a status never spans lines.
std::string one_line(std::string text)
{
    for (char& c : text)
        if (c == '\n' || c == '\r')
            c = ' ';
    return text;
}

std::uint64_t monotonic_usec()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

} // namespace

SystemdNotifier::SystemdNotifier()
{
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket && *socket;
    // Checks WATCHDOG_PID against our own PID; the environment stays as it
    // is (the spawner leaves these variables out of the gateway's).
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdog_ = std::chrono::microseconds(static_cast<std::int64_t>(usec));
}

void SystemdNotifier::ready(const std::string& status) { send("READY=1\nSTATUS=" + one_line(status)); }

void SystemdNotifier::status(const std::string& status) { send("STATUS=" + one_line(status)); }

void SystemdNotifier::reloading(const std::string& status)
{
    // MONOTONIC_USEC lets systemd (253+) match this RELOADING=1 with the reload it started.
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) + "\nSTATUS=" + one_line(status));
}

void SystemdNotifier::stopping(const std::string& status) { send("STOPPING=1\nSTATUS=" + one_line(status)); }

void SystemdNotifier::watchdog() { send("WATCHDOG=1"); }

void SystemdNotifier::extend_timeout(std::chrono::microseconds by)
{
    send("EXTEND_TIMEOUT_USEC=" + std::to_string(by.count()));
}

void SystemdNotifier::send(const std::string& text)
{
    if (!enabled_)
        return;
    // Best effort: systemd going away must not take the gateway with it.
    (void)sd_notify(0, text.c_str());
}

} // namespace hgw::daemon
