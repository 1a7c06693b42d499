// libFuzzer target: the options dictionary (a{sv}) that any bus client may
// pass to Start, Stop, Restart and Replace, through hgw::bus::parse_op_options.
//
// The input is decoded (FuzzedDataProvider) into a std::map<std::string,
// sdbus::Variant>: keys that are the known ones, near misses or arbitrary
// bytes; values of every basic D-Bus type and a few containers (so the known
// keys also get the wrong types), extreme integers, and strings from empty to
// 64 KiB, around the reason limit and far past it. The harness computes, on
// its own, whether the map is acceptable and which key is the first bad one.
//
// Promises checked (options.h): an acceptable map (only known keys, each of
// its type, a reason of at most kMaxReasonBytes, a timeout that fits in
// microseconds) parses without an exception and gives exactly those values
// (timeout_usec 0: no timeout); any other map throws sdbus::Error named
// HGW_BUS_ERROR_INVALID_ARGS whose message names the offending key. Nothing
// else may be thrown: only sdbus::Error is caught.

#include "dbus/bus_errors.h"
#include "dbus/options.h"
#include "fuzz_support.h"
#include "util/bus_names.h"

#include <fuzzer/FuzzedDataProvider.h>
#include <sdbus-c++/Error.h>
#include <sdbus-c++/Types.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using hgw::bus::VariantMap;

const char* const kKeys[] = {"reason", "timeout_usec", "if_generation", "Reason", "reason ", "timeout",
                             "timeout_usec\n", "if-generation", "", "generation"};

// Strings on the bus are valid UTF-8 without NUL: sd-bus refuses others
// when the variant is built. Those are made ASCII instead, so the input still
// produces a map.
template <typename T>
std::optional<sdbus::Variant> try_variant(const T& value)
{
    try {
        return sdbus::Variant(value);
    } catch (const sdbus::Error&) {
        return std::nullopt;
    }
}

std::string ascii(std::string s)
{
    for (char& c : s)
        c = static_cast<char>((static_cast<unsigned char>(c) % 95) + 32);
    return s;
}

sdbus::Variant string_variant(std::string s)
{
    if (auto v = try_variant(s))
        return *v;
    return sdbus::Variant(ascii(std::move(s)));
}

std::uint64_t interesting_u64(FuzzedDataProvider& in)
{
    constexpr std::uint64_t i64max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    switch (in.ConsumeIntegralInRange<int>(0, 6)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return i64max;
    case 3: return i64max + 1;
    case 4: return std::numeric_limits<std::uint64_t>::max();
    case 5: return i64max - in.ConsumeIntegralInRange<std::uint64_t>(0, 1000);
    default: return in.ConsumeIntegral<std::uint64_t>();
    }
}

std::string long_string(FuzzedDataProvider& in)
{
    constexpr std::size_t max = hgw::bus::kMaxReasonBytes;
    static const std::size_t sizes[] = {max - 1, max, max + 1, 4096, 65536 + 1};
    std::size_t n = sizes[in.ConsumeIntegralInRange<std::size_t>(0, std::size(sizes) - 1)];
    std::string fill = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<std::size_t>(1, 4));
    if (fill.empty())
        fill = "x";
    std::string s;
    s.reserve(n);
    while (s.size() < n)
        s += fill;
    s.resize(n); // may cut a multi-byte character: then string_variant makes it ASCII
    return s;
}

sdbus::Variant make_value(FuzzedDataProvider& in)
{
    switch (in.ConsumeIntegralInRange<int>(0, 17)) {
    case 0: return string_variant(in.ConsumeRandomLengthString(2048));
    case 1: return string_variant(long_string(in));
    case 2: return sdbus::Variant(interesting_u64(in));
    case 3: return sdbus::Variant(in.ConsumeIntegral<std::uint64_t>());
    case 4: return sdbus::Variant(in.ConsumeIntegral<std::int64_t>());
    case 5: return sdbus::Variant(in.ConsumeIntegral<std::int32_t>());
    case 6: return sdbus::Variant(in.ConsumeIntegral<std::uint32_t>());
    case 7: return sdbus::Variant(in.ConsumeIntegral<std::int16_t>());
    case 8: return sdbus::Variant(in.ConsumeIntegral<std::uint16_t>());
    case 9: return sdbus::Variant(in.ConsumeIntegral<std::uint8_t>());
    case 10: return sdbus::Variant(in.ConsumeBool());
    case 11: return sdbus::Variant(in.ConsumeFloatingPoint<double>());
    case 12: {
        std::string path = "/" + ascii(in.ConsumeRandomLengthString(32));
        if (auto v = try_variant(sdbus::ObjectPath(path)))
            return *v;
        return sdbus::Variant(sdbus::ObjectPath(HGW_BUS_PATH));
    }
    case 13: {
        if (auto v = try_variant(sdbus::Signature(ascii(in.ConsumeRandomLengthString(8)))))
            return *v;
        return sdbus::Variant(sdbus::Signature("t"));
    }
    case 14: {
        std::vector<std::string> list;
        for (int n = in.ConsumeIntegralInRange<int>(0, 4); n > 0; --n)
            list.push_back(ascii(in.ConsumeRandomLengthString(64)));
        return sdbus::Variant(list);
    }
    case 15: {
        std::vector<std::uint64_t> list;
        for (int n = in.ConsumeIntegralInRange<int>(0, 4); n > 0; --n)
            list.push_back(interesting_u64(in));
        return sdbus::Variant(list);
    }
    case 16: return sdbus::Variant(sdbus::Struct<std::uint64_t, std::string>(interesting_u64(in), "x"));
    default: {
        // A nested a{sv}, as a confused client might send its options in one.
        std::map<std::string, sdbus::Variant> inner;
        inner["reason"] = sdbus::Variant(std::string("nested"));
        if (in.ConsumeBool())
            inner["timeout_usec"] = sdbus::Variant(interesting_u64(in));
        return sdbus::Variant(inner);
    }
    }
}

std::string make_key(FuzzedDataProvider& in)
{
    if (in.ConsumeIntegralInRange<int>(0, 3) != 0)
        return kKeys[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kKeys) - 1)];
    return in.ConsumeRandomLengthString(64);
}

// Whether parse_op_options must accept `key` = `value`, by options.h.
bool acceptable(const std::string& key, const sdbus::Variant& value)
{
    const std::string type = value.peekValueType();
    if (key == "reason")
        return type == "s" && value.get<std::string>().size() <= hgw::bus::kMaxReasonBytes;
    if (key == "timeout_usec")
        return type == "t" &&
               value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (key == "if_generation")
        return type == "t";
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    VariantMap options;
    for (int n = 0; n < 8 && in.remaining_bytes() > 0; ++n) {
        std::string key = make_key(in);
        options.insert_or_assign(std::move(key), make_value(in));
    }

    const std::string* first_bad = nullptr;
    for (const auto& [key, value] : options)
        if (!acceptable(key, value)) {
            first_bad = &key;
            break;
        }

    hgw::daemon::OpOptions out;
    try {
        out = hgw::bus::parse_op_options(options);
    } catch (const sdbus::Error& e) {
        FUZZ_CHECK(first_bad, "an acceptable map was refused: %s: %s", e.getName().c_str(), e.getMessage().c_str());
        FUZZ_CHECK(e.getName() == HGW_BUS_ERROR_INVALID_ARGS, "refused with %s", e.getName().c_str());
        FUZZ_CHECK(e.getMessage().find("'" + *first_bad + "'") != std::string::npos,
                   "the refusal does not name the first bad key '%s': %s", first_bad->c_str(),
                   e.getMessage().c_str());
        return 0;
    }
    FUZZ_CHECK(!first_bad, "a bad option was accepted: '%s'", first_bad->c_str());

    auto it = options.find("reason");
    FUZZ_CHECK(out.reason == (it == options.end() ? std::string() : it->second.get<std::string>()), "reason differs");
    it = options.find("timeout_usec");
    std::uint64_t usec = it == options.end() ? 0 : it->second.get<std::uint64_t>();
    if (usec == 0)
        FUZZ_CHECK(!out.timeout, "timeout_usec 0 (or absent) set a timeout");
    else
        FUZZ_CHECK(out.timeout && static_cast<std::uint64_t>(out.timeout->count()) == usec, "timeout differs");
    it = options.find("if_generation");
    FUZZ_CHECK(out.if_generation == (it == options.end() ? std::optional<std::uint64_t>()
                                                         : std::optional<std::uint64_t>(it->second.get<std::uint64_t>())),
               "if_generation differs");
    return 0;
}
