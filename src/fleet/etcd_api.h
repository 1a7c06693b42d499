#pragma once
// etcd v3's JSON gateway (/v3/...), as request bodies and parsed replies:
// no transport here, so the protocol is tested without a network. Keys and
// values travel base64-encoded; 64-bit numbers travel as decimal strings.

#include "util/errors.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hgw::fleet {

// etcd answered, but not with what the request needs (a malformed reply, an
// error object, a lease it no longer knows).
class EtcdError : public Error {
public:
    using Error::Error;
};

std::string base64_encode(std::string_view bytes);
std::string base64_decode(std::string_view text); // throws EtcdError on bad input

// The end of the range of every key that starts with `prefix` (etcd's
// "prefix + 1" rule: the last byte incremented).
std::string prefix_range_end(std::string_view prefix);

struct KeyValue {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t lease = 0;
};

struct RangeReply {
    std::int64_t revision = 0; // the store's revision when it answered
    std::vector<KeyValue> kvs; // in create-revision order
};

// POST /v3/lease/grant
std::string lease_grant_request(std::int64_t ttl_seconds);
struct LeaseGrant {
    std::int64_t id = 0;
    std::int64_t ttl = 0;
};
LeaseGrant parse_lease_grant(std::string_view reply);

// POST /v3/lease/keepalive: the TTL left after the renewal; 0 when the
// lease has expired (etcd then leaves TTL out).
std::string lease_keepalive_request(std::int64_t lease);
std::int64_t parse_lease_keepalive(std::string_view reply);

// POST /v3/lease/revoke
std::string lease_revoke_request(std::int64_t lease);

// POST /v3/kv/txn: put `key` = `value` with `lease` only if the key does not
// exist yet. True when it was created.
std::string create_key_request(std::string_view key, std::string_view value, std::int64_t lease);
bool parse_txn_succeeded(std::string_view reply);

// POST /v3/kv/range: every key under `prefix`, oldest creation first.
std::string prefix_range_request(std::string_view prefix);
RangeReply parse_range(std::string_view reply);

// POST /v3/kv/put: `key` = `value`, attached to `lease` (gone with it).
std::string put_request(std::string_view key, std::string_view value, std::int64_t lease);
// POST /v3/kv/deleterange: `key` alone.
std::string delete_request(std::string_view key);
// A reply that carries nothing we need: throws EtcdError if it is an error.
void check_reply(std::string_view reply, std::string_view what);

// POST /v3/watch: events for every key under `prefix` from `start_revision` on.
std::string watch_prefix_request(std::string_view prefix, std::int64_t start_revision);
struct WatchEvent {
    bool deleted = false; // else a put
    std::string key;
};
// One line of the watch stream, its events in order. Throws EtcdError for
// an error or a cancelled watch.
std::vector<WatchEvent> parse_watch_line(std::string_view line);

} // namespace hgw::fleet
