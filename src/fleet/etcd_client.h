#pragma once
// A blocking client of etcd's v3 JSON gateway over libcurl, for the fleet
// campaign's own thread (never the daemon's loop). Each call tries the
// endpoints in turn, starting with the one that answered last, and fails
// with EtcdUnreachable when none answers within the call's timeout.

#include "fleet/etcd_api.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hgw::fleet {

// No endpoint answered (connection refused, timeout, TLS failure, HTTP 5xx).
class EtcdUnreachable : public Error {
public:
    using Error::Error;
};

struct EtcdOptions {
    std::vector<std::string> endpoints; // http(s)://host:port
    std::string ca_file;                // TLS: the CA that signed etcd's certificate
    std::string cert_file, key_file;    // TLS: our client certificate
    std::string user, password;         // etcd's own authentication, if enabled
    std::chrono::milliseconds timeout{1000}; // per request and endpoint
};

class EtcdClient {
public:
    explicit EtcdClient(EtcdOptions options);
    ~EtcdClient();
    EtcdClient(const EtcdClient&) = delete;
    EtcdClient& operator=(const EtcdClient&) = delete;

    LeaseGrant grant(std::int64_t ttl_seconds);
    std::int64_t keepalive(std::int64_t lease); // TTL left; 0: expired
    void revoke(std::int64_t lease);
    bool create(const std::string& key, const std::string& value, std::int64_t lease);
    RangeReply range_prefix(const std::string& prefix);
    void put(const std::string& key, const std::string& value, std::int64_t lease);
    void remove(const std::string& key);

    // Watches every key under `prefix` until an event that `wanted` accepts
    // (true), `wait` passes (false) or `stop` becomes true (false), from
    // `start_revision` so that a change between the caller's read and this
    // call is not missed.
    using WatchFilter = std::function<bool(const WatchEvent&)>;
    bool watch_prefix(const std::string& prefix, std::int64_t start_revision, std::chrono::milliseconds wait,
                      const std::atomic<bool>& stop, const WatchFilter& wanted);

private:
    struct Slist;
    struct Curl;
    void* prepare(const std::string& url, const std::string& body, Slist& headers); // a CURL*
    std::string post(const std::string& path, const std::string& body);
    std::string post_to(const std::string& endpoint, const std::string& path, const std::string& body, bool* retry);
    void authenticate(const std::string& endpoint);

    EtcdOptions options_;
    std::size_t preferred_ = 0; // the endpoint that answered last
    std::string token_;         // etcd's auth token, when user/password are set
    std::unique_ptr<Curl> curl_;
};

} // namespace hgw::fleet
