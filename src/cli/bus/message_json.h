#pragma once
// D-Bus values as JSON, read straight from an sd-bus message: basic types,
// string arrays, structs as arrays, a{sv} dicts as objects with their keys
// sorted (as the client printed them before, through std::map), variants
// as what they hold. A type the interface does not use keeps its field as
// "<value of D-Bus type T>".

#include <systemd/sd-bus.h>

#include <nlohmann/json.hpp>

namespace hgw::cli {

using Json = nlohmann::ordered_json;

// Reads an a{sv} at the message's read position. Throws std::runtime_error
// if the message holds something else.
Json read_dict(sd_bus_message* m);

// Reads an `as` at the message's read position.
Json read_string_array(sd_bus_message* m);

} // namespace hgw::cli
