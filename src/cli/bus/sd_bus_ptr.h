#pragma once
// Owning handles for sd-bus objects, so that every path out of a command
// (a reply, an error, an exception) releases them once.

#include <systemd/sd-bus.h>

#include <memory>

namespace hgw::cli {

struct BusCloser {
    // Flushes what is queued (a method call just sent must not be lost),
    // then closes and frees.
    void operator()(sd_bus* bus) const noexcept { sd_bus_flush_close_unref(bus); }
};
struct MessageUnref {
    void operator()(sd_bus_message* m) const noexcept { sd_bus_message_unref(m); }
};
struct SlotUnref {
    // For a pending call: its reply, if it still comes, is then dropped.
    void operator()(sd_bus_slot* slot) const noexcept { sd_bus_slot_unref(slot); }
};

using BusPtr = std::unique_ptr<sd_bus, BusCloser>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

// An sd_bus_error that frees what sd-bus put in it.
class BusErrorHolder {
public:
    BusErrorHolder() = default;
    ~BusErrorHolder() { sd_bus_error_free(&error_); }
    BusErrorHolder(const BusErrorHolder&) = delete;
    BusErrorHolder& operator=(const BusErrorHolder&) = delete;

    sd_bus_error* get() { return &error_; }
    [[nodiscard]] const sd_bus_error& operator*() const { return error_; }

private:
    sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

} // namespace hgw::cli
