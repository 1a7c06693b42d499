#include "sd_bus_caller.h"

#include "util/bus_names.h"

#include <systemd/sd-bus.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace hgw::bench {

namespace {

void check(int r, const char* what)
{
    if (r < 0)
        throw std::runtime_error(std::string("sd-bus: ") + what + ": " + std::strerror(-r));
}

struct MessageUnref {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

struct ErrorFree {
    void operator()(sd_bus_error* e) const { sd_bus_error_free(e); }
};

Message call(sd_bus* bus, const char* interface, const char* method)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    std::unique_ptr<sd_bus_error, ErrorFree> guard(&error);
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus, HGW_BUS_NAME, HGW_BUS_PATH, interface, method, &error, &reply, "");
    if (r < 0)
        throw std::runtime_error(std::string(method) + ": " + (error.message ? error.message : std::strerror(-r)));
    return Message(reply);
}

// The value of `key` in an a{sv} whose values are read only when asked for:
// every other entry is skipped, as a client that wants one field does.
std::string string_entry(sd_bus_message* m, const char* key)
{
    std::string found;
    check(sd_bus_message_enter_container(m, 'a', "{sv}"), "enter a{sv}");
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
        const char* name = nullptr;
        check(sd_bus_message_read_basic(m, 's', &name), "read key");
        if (std::strcmp(name, key) == 0) {
            const char* value = nullptr;
            check(sd_bus_message_read(m, "v", "s", &value), "read value");
            found = value;
        } else {
            check(sd_bus_message_skip(m, "v"), "skip value");
        }
        check(sd_bus_message_exit_container(m), "exit entry");
    }
    check(sd_bus_message_exit_container(m), "exit a{sv}");
    return found;
}

} // namespace

SdBusCaller::SdBusCaller(const std::string& address)
{
    check(sd_bus_new(&bus_), "new");
    check(sd_bus_set_address(bus_, address.c_str()), "set address");
    check(sd_bus_set_bus_client(bus_, 1), "set bus client");
    check(sd_bus_start(bus_), "start");
}

SdBusCaller::~SdBusCaller() { sd_bus_flush_close_unref(bus_); }

void SdBusCaller::ping() { call(bus_, "org.freedesktop.DBus.Peer", "Ping"); }

std::string SdBusCaller::status_state()
{
    Message reply = call(bus_, HGW_BUS_INTERFACE, HGW_BUS_METHOD_GET_STATUS);
    return string_entry(reply.get(), "state");
}

} // namespace hgw::bench
