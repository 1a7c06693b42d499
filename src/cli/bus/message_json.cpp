#include "cli/bus/message_json.h"

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hgw::cli {

namespace {

// sd-bus returns -errno; a message that does not hold what the interface
// says is not a reply we can use.
int check(int r, const char* what)
{
    if (r < 0)
        throw std::runtime_error(std::string("malformed D-Bus message (") + what + "): " + std::strerror(-r));
    return r;
}

template <typename T>
T read_basic(sd_bus_message* m, char type)
{
    T value{};
    check(sd_bus_message_read_basic(m, type, &value), "basic value");
    return value;
}

Json read_value(sd_bus_message* m, const std::string& signature);

// A variant: what it holds.
Json read_variant(sd_bus_message* m)
{
    char type = 0;
    const char* contents = nullptr;
    check(sd_bus_message_peek_type(m, &type, &contents), "variant");
    if (type != SD_BUS_TYPE_VARIANT || !contents)
        throw std::runtime_error("malformed D-Bus message: a variant was expected");
    const std::string signature = contents; // valid only until the message moves on
    check(sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, signature.c_str()), "variant");
    Json value = read_value(m, signature);
    check(sd_bus_message_exit_container(m), "variant");
    return value;
}

Json read_value(sd_bus_message* m, const std::string& signature)
{
    if (signature.size() == 1) {
        switch (signature[0]) {
        case 's':
        case 'o':
        case 'g': return std::string(read_basic<const char*>(m, signature[0]));
        case 'b': return read_basic<int>(m, 'b') != 0;
        case 'y': return read_basic<std::uint8_t>(m, 'y');
        case 'n': return read_basic<std::int16_t>(m, 'n');
        case 'q': return read_basic<std::uint16_t>(m, 'q');
        case 'i': return read_basic<std::int32_t>(m, 'i');
        case 'u': return read_basic<std::uint32_t>(m, 'u');
        case 'x': return read_basic<std::int64_t>(m, 'x');
        case 't': return read_basic<std::uint64_t>(m, 't');
        case 'd': return read_basic<double>(m, 'd');
        case 'v': return read_variant(m);
        default: break;
        }
    }
    if (signature == "as")
        return read_string_array(m);
    if (signature == "a{sv}")
        return read_dict(m);
    if (signature == "(si)") {
        check(sd_bus_message_enter_container(m, SD_BUS_TYPE_STRUCT, "si"), "struct");
        Json pair = Json::array({std::string(read_basic<const char*>(m, 's')), read_basic<std::int32_t>(m, 'i')});
        check(sd_bus_message_exit_container(m), "struct");
        return pair;
    }
    // Not part of the interface today: keep the field, say what it was.
    check(sd_bus_message_skip(m, signature.c_str()), "skipped value");
    return "<value of D-Bus type " + signature + ">";
}

} // namespace

Json read_dict(sd_bus_message* m)
{
    std::map<std::string, Json> sorted;
    check(sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}"), "dict");
    for (;;) {
        int r = check(sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv"), "dict entry");
        if (r == 0)
            break; // the end of the array
        std::string key = read_basic<const char*>(m, 's');
        Json value = read_variant(m);
        sorted.emplace(std::move(key), std::move(value)); // a repeated key: the first one counts
        check(sd_bus_message_exit_container(m), "dict entry");
    }
    check(sd_bus_message_exit_container(m), "dict");
    Json out = Json::object();
    for (auto& [key, value] : sorted)
        out[key] = std::move(value);
    return out;
}

Json read_string_array(sd_bus_message* m)
{
    Json out = Json::array();
    check(sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "s"), "string array");
    const char* s = nullptr;
    while (check(sd_bus_message_read_basic(m, 's', &s), "string array") > 0)
        out.push_back(std::string(s));
    check(sd_bus_message_exit_container(m), "string array");
    return out;
}

} // namespace hgw::cli
