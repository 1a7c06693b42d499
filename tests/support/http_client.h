#pragma once
// A minimal HTTP/1.1 client over IPv4 for tests: one request per
// connection, every wait bounded by one deadline. Enough for etcd's
// /health and JSON gateway and the fake bot API; not a general client.

#include <chrono>
#include <cstdint>
#include <string>

namespace hgw::test {

struct HttpResponse {
    int status = 0;    // 0: no answer (then `error` says why)
    std::string body;  // chunked transfer coding removed
    std::string error; // connect refused, timed out, malformed answer...
    [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
};

struct HttpRequest {
    std::string method = "GET";
    std::string host; // a dotted IPv4 address
    std::uint16_t port = 0;
    std::string path = "/";
    std::string body = {}; // sent as application/json when not empty
    std::chrono::milliseconds timeout = std::chrono::seconds(5);
};

HttpResponse http_request(const HttpRequest& request);

inline HttpResponse http_get(const std::string& host, std::uint16_t port, const std::string& path,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5))
{
    return http_request({"GET", host, port, path, {}, timeout});
}

} // namespace hgw::test
