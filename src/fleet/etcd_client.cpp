#include "fleet/etcd_client.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <mutex>

namespace hgw::fleet {

namespace {

// curl_global_init is not thread-safe before 7.84; done once, before any use.
void init_curl_once()
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out)
{
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

// The watch stream: whole lines are judged as they arrive; returning 0
// ends the transfer once an event was wanted.
struct WatchSink {
    const EtcdClient::WatchFilter& wanted;
    std::string pending;
    bool seen = false;
    std::string error;
};

std::size_t watch_body(char* data, std::size_t size, std::size_t n, void* out)
{
    auto* sink = static_cast<WatchSink*>(out);
    sink->pending.append(data, size * n);
    for (auto eol = sink->pending.find('\n'); eol != std::string::npos; eol = sink->pending.find('\n')) {
        const std::string line = sink->pending.substr(0, eol);
        sink->pending.erase(0, eol + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos)
            continue;
        try {
            for (const WatchEvent& e : parse_watch_line(line))
                sink->seen = sink->seen || sink->wanted(e);
        } catch (const EtcdError& e) {
            sink->error = e.what();
        }
        if (sink->seen || !sink->error.empty())
            return 0;
    }
    return size * n;
}

int stop_requested(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
{
    return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
}

} // namespace

struct EtcdClient::Slist {
    curl_slist* list = nullptr;
    Slist() = default;
    Slist(const Slist&) = delete;
    Slist& operator=(const Slist&) = delete;
    ~Slist() { curl_slist_free_all(list); }
    void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

struct EtcdClient::Curl {
    CURL* handle = curl_easy_init();
    ~Curl() { curl_easy_cleanup(handle); }
};

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options))
{
    if (options_.endpoints.empty())
        throw Error("no etcd endpoint given", "set --fleet-endpoints to etcd's client URLs");
    init_curl_once();
    curl_ = std::make_unique<Curl>();
    if (!curl_->handle)
        throw Error("cannot create a libcurl handle");
}

EtcdClient::~EtcdClient() = default;

// The handle, reset and set up for a JSON POST of `body` to `url`: both
// must outlive the transfer (libcurl keeps pointers to them).
CURL* EtcdClient::prepare(const std::string& url, const std::string& body, Slist& headers)
{
    CURL* c = curl_->handle;
    curl_easy_reset(c);
    headers.add("Content-Type: application/json");
    if (!token_.empty())
        headers.add("Authorization: " + token_);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!options_.ca_file.empty())
        curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (!options_.cert_file.empty())
        curl_easy_setopt(c, CURLOPT_SSLCERT, options_.cert_file.c_str());
    if (!options_.key_file.empty())
        curl_easy_setopt(c, CURLOPT_SSLKEY, options_.key_file.c_str());
    return c;
}

// One request to one endpoint. `retry` is set when another endpoint may do
// better (no answer, or a server error); an answer etcd gave is final.
std::string EtcdClient::post_to(const std::string& endpoint, const std::string& path, const std::string& body,
                                bool* retry)
{
    std::string reply;
    const std::string url = endpoint + path;
    Slist headers;
    CURL* c = prepare(url, body, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status >= 500) {
        *retry = true;
        throw EtcdUnreachable("etcd at " + endpoint + ": " +
                              (rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : "HTTP " + std::to_string(status)));
    }
    *retry = false;
    return reply;
}

void EtcdClient::authenticate(const std::string& endpoint)
{
    token_.clear();
    bool retry = false;
    const std::string reply =
        post_to(endpoint, "/v3/auth/authenticate",
                nlohmann::json{{"name", options_.user}, {"password", options_.password}}.dump(), &retry);
    auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.contains("token"))
        throw EtcdError("etcd refused the user " + options_.user + ": " + reply.substr(0, 200),
                        "check --fleet-user and the password file");
    token_ = j.at("token").get<std::string>();
}

std::string EtcdClient::post(const std::string& path, const std::string& body)
{
    std::string last;
    for (std::size_t k = 0; k < options_.endpoints.size(); ++k) {
        const std::size_t i = (preferred_ + k) % options_.endpoints.size();
        const std::string& endpoint = options_.endpoints[i];
        bool retry = false;
        try {
            if (!options_.user.empty() && token_.empty())
                authenticate(endpoint);
            std::string reply = post_to(endpoint, path, body, &retry);
            preferred_ = i;
            return reply;
        } catch (const EtcdUnreachable& e) {
            last = e.what();
            if (!retry)
                throw;
        }
    }
    throw EtcdUnreachable("no etcd endpoint answered; last: " + last,
                          "check that etcd runs and that this host reaches it");
}

LeaseGrant EtcdClient::grant(std::int64_t ttl_seconds)
{
    return parse_lease_grant(post("/v3/lease/grant", lease_grant_request(ttl_seconds)));
}

std::int64_t EtcdClient::keepalive(std::int64_t lease)
{
    return parse_lease_keepalive(post("/v3/lease/keepalive", lease_keepalive_request(lease)));
}

void EtcdClient::revoke(std::int64_t lease)
{
    post("/v3/lease/revoke", lease_revoke_request(lease));
}

bool EtcdClient::create(const std::string& key, const std::string& value, std::int64_t lease)
{
    return parse_txn_succeeded(post("/v3/kv/txn", create_key_request(key, value, lease)));
}

RangeReply EtcdClient::range_prefix(const std::string& prefix)
{
    return parse_range(post("/v3/kv/range", prefix_range_request(prefix)));
}

void EtcdClient::put(const std::string& key, const std::string& value, std::int64_t lease)
{
    check_reply(post("/v3/kv/put", put_request(key, value, lease)), "a put");
}

void EtcdClient::remove(const std::string& key)
{
    check_reply(post("/v3/kv/deleterange", delete_request(key)), "a deletion");
}

bool EtcdClient::watch_prefix(const std::string& prefix, std::int64_t start_revision, std::chrono::milliseconds wait,
                              const std::atomic<bool>& stop, const WatchFilter& wanted)
{
    const std::string& endpoint = options_.endpoints[preferred_];
    WatchSink sink{wanted, {}, false, {}};
    const std::string url = endpoint + "/v3/watch";
    const std::string body = watch_prefix_request(prefix, start_revision);
    Slist headers;
    CURL* c = prepare(url, body, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(wait.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_requested);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &stop);
    const CURLcode rc = curl_easy_perform(c);
    if (sink.seen)
        return true;
    if (!sink.error.empty())
        throw EtcdError(sink.error);
    if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_OK)
        return false;
    throw EtcdUnreachable("etcd's watch at " + endpoint + ": " + curl_easy_strerror(rc));
}

} // namespace hgw::fleet
