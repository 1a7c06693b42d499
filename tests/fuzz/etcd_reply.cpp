// libFuzzer target: what etcd's JSON gateway sends the fleet campaign (or
// whatever answers at an address given as an etcd endpoint). The first byte
// picks the reply kind; the rest is the reply.
//
// Promises checked: no parser fails but with EtcdError (a nlohmann type
// error or a bad_alloc would end the campaign's thread); a lease granted
// has a non-zero ID and a positive TTL; a range's keys round-trip through
// base64.

#include "fleet/etcd_api.h"
#include "fuzz_support.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        switch (data[0] % 5) {
        case 0: {
            auto g = hgw::fleet::parse_lease_grant(text);
            FUZZ_CHECK(g.id != 0 && g.ttl > 0, "lease %lld ttl %lld", static_cast<long long>(g.id),
                       static_cast<long long>(g.ttl));
            break;
        }
        case 1: (void)hgw::fleet::parse_lease_keepalive(text); break;
        case 2: (void)hgw::fleet::parse_txn_succeeded(text); break;
        case 3: {
            auto r = hgw::fleet::parse_range(text);
            for (const auto& kv : r.kvs)
                FUZZ_CHECK(hgw::fleet::base64_decode(hgw::fleet::base64_encode(kv.key)) == kv.key,
                           "a key that does not round-trip");
            break;
        }
        case 4: (void)hgw::fleet::parse_watch_line(text); break;
        }
    } catch (const hgw::fleet::EtcdError&) {
    }
    return 0;
}
