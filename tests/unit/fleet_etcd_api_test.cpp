// etcd's v3 JSON gateway as fleet mode speaks it: request bodies and
// replies (as etcd 3.4 sends them), without a network.

#include "fleet/etcd_api.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace hgw::fleet;
using nlohmann::json;

TEST_CASE("base64 round-trips every byte and rejects what is not base64", "[fleet][etcd]")
{
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("/f/a") == "L2YvYQ==");
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    CHECK(base64_decode(base64_encode(all)) == all);
    CHECK_THROWS_AS(base64_decode("Zm9"), EtcdError);
    CHECK_THROWS_AS(base64_decode("Zm9!"), EtcdError);
    CHECK_THROWS_AS(base64_decode("Z=9v"), EtcdError);
}

TEST_CASE("a prefix's range ends at the prefix with its last byte incremented", "[fleet][etcd]")
{
    CHECK(prefix_range_end("/f/") == "/f0");
    CHECK(prefix_range_end(std::string("a\xff", 2)) == "b");
    CHECK(prefix_range_end(std::string("\xff", 1)) == std::string(1, '\0'));
}

TEST_CASE("lease replies: a grant, a renewal, an expired lease, an error", "[fleet][etcd]")
{
    auto g = parse_lease_grant(R"({"header":{"revision":"1"},"ID":"2324035869255827973","TTL":"5"})");
    CHECK(g.id == 2324035869255827973);
    CHECK(g.ttl == 5);
    CHECK(json::parse(lease_grant_request(10)) == json{{"TTL", "10"}});
    CHECK(parse_lease_keepalive(R"({"result":{"header":{},"ID":"7","TTL":"10"}})") == 10);
    // An expired lease: etcd leaves TTL out (proto3's default 0).
    CHECK(parse_lease_keepalive(R"({"result":{"header":{},"ID":"7"}})") == 0);
    CHECK_THROWS_WITH(parse_lease_grant(R"({"error":"etcdserver: too many requests","code":14,"message":"etcdserver: too many requests"})"),
                      Catch::Contains("too many requests"));
    CHECK_THROWS_AS(parse_lease_grant("not json"), EtcdError);
    CHECK_THROWS_AS(parse_lease_grant(R"({"ID":"x7","TTL":"5"})"), EtcdError);
    CHECK_THROWS_AS(parse_lease_keepalive(R"({"header":{}})"), EtcdError);
}

TEST_CASE("a key is created only where none exists, with our lease", "[fleet][etcd]")
{
    json txn = json::parse(create_key_request("/f/k", "v", 42));
    CHECK(txn["compare"][0]["target"] == "CREATE");
    CHECK(txn["compare"][0]["create_revision"] == "0");
    CHECK(txn["compare"][0]["key"] == base64_encode("/f/k"));
    CHECK(txn["success"][0]["request_put"]["lease"] == "42");
    CHECK(txn["success"][0]["request_put"]["value"] == base64_encode("v"));
    CHECK(parse_txn_succeeded(R"({"header":{},"succeeded":true})"));
    CHECK_FALSE(parse_txn_succeeded(R"({"header":{}})"));
}

TEST_CASE("the line of keys comes oldest first, decoded", "[fleet][etcd]")
{
    json range = json::parse(prefix_range_request("/f/"));
    CHECK(range["sort_target"] == "CREATE");
    CHECK(range["sort_order"] == "ASCEND");
    CHECK(base64_decode(range["range_end"].get<std::string>()) == "/f0");
    RangeReply r = parse_range(
        R"({"header":{"revision":"9"},"kvs":[{"key":"L2YvYQ==","create_revision":"2","value":"aG9zdDE=","lease":"5"},)"
        R"({"key":"L2YvYg==","create_revision":"4","value":"aG9zdDI=","lease":"6"}],"count":"2"})");
    CHECK(r.revision == 9);
    REQUIRE(r.kvs.size() == 2);
    CHECK(r.kvs[0].key == "/f/a");
    CHECK(r.kvs[0].value == "host1");
    CHECK(r.kvs[0].create_revision == 2);
    CHECK(r.kvs[1].lease == 6);
    CHECK(parse_range(R"({"header":{"revision":"3"}})").kvs.empty());
}

TEST_CASE("the watch stream: creation, a put, a deletion, a cancellation", "[fleet][etcd]")
{
    json w = json::parse(watch_prefix_request("/f/", 10));
    CHECK(w["create_request"]["start_revision"] == "10");
    CHECK(base64_decode(w["create_request"]["key"].get<std::string>()) == "/f/");
    CHECK(base64_decode(w["create_request"]["range_end"].get<std::string>()) == "/f0");
    CHECK(parse_watch_line(R"({"result":{"header":{},"created":true}})").empty());
    auto events = parse_watch_line(
        R"({"result":{"header":{},"events":[{"kv":{"key":"L2YvYQ=="}},{"type":"DELETE","kv":{"key":"L2YvYg=="}}]}})");
    REQUIRE(events.size() == 2);
    CHECK_FALSE(events[0].deleted);
    CHECK(events[0].key == "/f/a");
    CHECK(events[1].deleted);
    CHECK(events[1].key == "/f/b");
    CHECK_THROWS_WITH(parse_watch_line(R"({"result":{"canceled":true,"cancel_reason":"mvcc: required revision has been compacted"}})"),
                      Catch::Contains("compacted"));
}

TEST_CASE("a put carries its lease, a deletion names one key, and an error reply is refused", "[fleet][etcd]")
{
    json put = json::parse(put_request("/f/handover", "{}", 7));
    CHECK(base64_decode(put["key"].get<std::string>()) == "/f/handover");
    CHECK(put["lease"] == "7");
    json del = json::parse(delete_request("/f/handover"));
    CHECK(base64_decode(del["key"].get<std::string>()) == "/f/handover");
    CHECK_FALSE(del.contains("range_end"));
    CHECK_NOTHROW(check_reply(R"({"header":{"revision":"9"}})", "a put"));
    CHECK_THROWS_AS(check_reply(R"({"error":"etcdserver: requested lease not found","code":5})", "a put"), EtcdError);
}
