// libFuzzer target: gateway.pid as Hermes (or anyone able to write the home)
// left it, through parse_record.
//
// Promises checked: parse_record never throws for any bytes (read_record_file
// relies on that: "never throws for bad contents"), so no exception is
// caught here; it returns either a record or a non-empty reason; a record has
// a positive pid (and manager pid), a legacy bare PID carries nothing else;
// and a record round-trips through serialize_record unchanged.

#include "core/pid_record.h"
#include "fuzz_support.h"
#include "record_check.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const hgw::RecordParse parsed = hgw::parse_record(bytes);
    if (!parsed.record) {
        FUZZ_CHECK(!parsed.error.empty(), "refused without a reason");
        return 0;
    }
    FUZZ_CHECK(parsed.error.empty(), "a record and an error: %s", parsed.error.c_str());
    hgw::fuzz::check_record_shape(*parsed.record);
    hgw::fuzz::check_round_trip(*parsed.record);
    return 0;
}
