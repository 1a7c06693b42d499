#pragma once
// A bus client in plain sd-bus, as busctl and systemctl are: what a call to
// the daemon costs a lean client, beside sdbus-c++'s figures (whose
// client builds one sd_bus_message for every variant it decodes).

#include <sys/types.h>

#include <string>

struct sd_bus;

namespace hgw::bench {

class SdBusCaller {
public:
    explicit SdBusCaller(const std::string& address);
    ~SdBusCaller();
    SdBusCaller(const SdBusCaller&) = delete;
    SdBusCaller& operator=(const SdBusCaller&) = delete;

    // org.freedesktop.DBus.Peer.Ping on the daemon's name.
    void ping();
    // GetStatus, decoded entry by entry; returns its "state".
    std::string status_state();

private:
    sd_bus* bus_ = nullptr;
};

} // namespace hgw::bench
