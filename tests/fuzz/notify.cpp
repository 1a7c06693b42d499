// libFuzzer target: sd_notify datagrams from the gateway (READY=1,
// STATUS=..., EXTEND_TIMEOUT_USEC=..., anything), through
// parse_notify_message. The gateway, or whatever it runs, writes them.
//
// Promises checked: no exception (nothing is caught); every key is non-empty
// and holds no '=' or newline, no value holds a newline; each key=value pair
// is one line of the datagram and is the last line with that key (the last
// assignment wins); no line "K=..." with a non-empty K is lost; and writing
// the map back as lines parses to the same map.

#include "daemon/child_notify.h"
#include "fuzz_support.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

using hgw::daemon::NotifyMessage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string datagram(reinterpret_cast<const char*>(data), size);
    const NotifyMessage msg = hgw::daemon::parse_notify_message(datagram);

    // The expected map, the slow way: split into lines, the last wins.
    NotifyMessage expected;
    std::size_t start = 0;
    while (start < datagram.size()) {
        std::size_t end = datagram.find('\n', start);
        if (end == std::string::npos)
            end = datagram.size();
        std::string_view line(datagram.data() + start, end - start);
        std::size_t eq = line.find('=');
        if (eq != std::string_view::npos && eq != 0)
            expected[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
        start = end + 1;
    }
    FUZZ_CHECK(msg == expected, "%zu keys parsed, %zu expected", msg.size(), expected.size());

    std::string again;
    for (const auto& [key, value] : msg) {
        FUZZ_CHECK(!key.empty(), "an empty key");
        FUZZ_CHECK(key.find_first_of("=\n") == std::string::npos, "key '%s' holds '=' or a newline", key.c_str());
        FUZZ_CHECK(value.find('\n') == std::string::npos, "the value of %s holds a newline", key.c_str());
        again += key + "=" + value + "\n";
    }
    FUZZ_CHECK(hgw::daemon::parse_notify_message(again) == msg, "the map written back as lines parses differently");
    return 0;
}
