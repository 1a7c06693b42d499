#include "fleet/etcd_api.h"

#include <nlohmann/json.hpp>

#include <array>

namespace hgw::fleet {

namespace {

using nlohmann::json;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

json parse(std::string_view reply, std::string_view what)
{
    json j = json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw EtcdError("etcd's reply to " + std::string(what) + " is not a JSON object: " +
                        std::string(reply.substr(0, 200)));
    // The gateway reports a failed call as {"error": ..., "code": N, "message": ...}.
    if (j.contains("error") || (j.contains("code") && j.contains("message")))
        throw EtcdError("etcd refused " + std::string(what) + ": " +
                        j.value("message", j.value("error", std::string("unknown error"))));
    return j;
}

// int64 fields arrive as strings ("123"); absent means 0 (proto3 defaults).
std::int64_t number(const json& j, const char* field)
{
    if (!j.contains(field))
        return 0;
    const json& v = j.at(field);
    if (v.is_number_integer())
        return v.get<std::int64_t>();
    if (!v.is_string())
        throw EtcdError(std::string("etcd's field ") + field + " is not a number");
    try {
        std::size_t used = 0;
        const long long n = std::stoll(v.get<std::string>(), &used);
        if (used != v.get<std::string>().size())
            throw EtcdError(std::string("etcd's field ") + field + " is not a number: " + v.get<std::string>());
        return n;
    } catch (const std::logic_error&) {
        throw EtcdError(std::string("etcd's field ") + field + " is not a number: " + v.get<std::string>());
    }
}

// A reply of the wrong shape (a number where a string belongs, ...) is
// etcd's fault, reported as EtcdError like every other: the campaign's
// thread handles that one kind.
template <typename F>
auto checked(F&& parse) -> decltype(parse())
{
    try {
        return parse();
    } catch (const nlohmann::json::exception& e) {
        throw EtcdError(std::string("etcd's reply has an unexpected shape: ") + e.what());
    }
}

} // namespace

std::string base64_encode(std::string_view bytes)
{
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
        for (int s : {18, 12, 6, 0})
            out += kAlphabet[(n >> s) & 63];
    }
    if (const std::size_t rest = bytes.size() - i) {
        unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
        if (rest == 2)
            n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(std::string_view text)
{
    std::array<int, 256> value{};
    value.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i)
        value[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
    if (text.size() % 4 != 0)
        throw EtcdError("not base64 (length " + std::to_string(text.size()) + ")");
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        unsigned n = 0;
        int pad = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=' && i + 4 == text.size() && k >= 2) {
                ++pad;
                n <<= 6;
                continue;
            }
            const int v = value[static_cast<unsigned char>(c)];
            if (v < 0 || pad)
                throw EtcdError("not base64: unexpected character");
            n = (n << 6) | static_cast<unsigned>(v);
        }
        out += static_cast<char>((n >> 16) & 255);
        if (pad < 2)
            out += static_cast<char>((n >> 8) & 255);
        if (pad < 1)
            out += static_cast<char>(n & 255);
    }
    return out;
}

std::string prefix_range_end(std::string_view prefix)
{
    std::string end(prefix);
    while (!end.empty()) {
        if (static_cast<unsigned char>(end.back()) < 0xff) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0'); // every key
}

std::string lease_grant_request(std::int64_t ttl_seconds)
{
    return json{{"TTL", std::to_string(ttl_seconds)}}.dump();
}

static LeaseGrant parse_lease_grant_unchecked(std::string_view reply)
{
    json j = parse(reply, "a lease grant");
    LeaseGrant g{number(j, "ID"), number(j, "TTL")};
    if (g.id == 0 || g.ttl <= 0)
        throw EtcdError("etcd granted no usable lease: " + std::string(reply.substr(0, 200)));
    return g;
}

std::string lease_keepalive_request(std::int64_t lease)
{
    return json{{"ID", std::to_string(lease)}}.dump();
}

static std::int64_t parse_lease_keepalive_unchecked(std::string_view reply)
{
    json j = parse(reply, "a lease keep-alive");
    if (!j.contains("result") || !j.at("result").is_object())
        throw EtcdError("etcd's keep-alive reply has no result: " + std::string(reply.substr(0, 200)));
    return number(j.at("result"), "TTL");
}

std::string lease_revoke_request(std::int64_t lease)
{
    return json{{"ID", std::to_string(lease)}}.dump();
}

std::string create_key_request(std::string_view key, std::string_view value, std::int64_t lease)
{
    const std::string k = base64_encode(key);
    return json{{"compare", json::array({{{"key", k}, {"target", "CREATE"}, {"create_revision", "0"}}})},
                {"success", json::array({{{"request_put",
                                           {{"key", k}, {"value", base64_encode(value)}, {"lease", std::to_string(lease)}}}}})}}
        .dump();
}

static bool parse_txn_succeeded_unchecked(std::string_view reply)
{
    json j = parse(reply, "a transaction");
    return j.value("succeeded", false);
}

std::string prefix_range_request(std::string_view prefix)
{
    return json{{"key", base64_encode(prefix)},
                {"range_end", base64_encode(prefix_range_end(prefix))},
                {"sort_target", "CREATE"},
                {"sort_order", "ASCEND"}}
        .dump();
}

static RangeReply parse_range_unchecked(std::string_view reply)
{
    json j = parse(reply, "a range read");
    RangeReply r;
    if (j.contains("header"))
        r.revision = number(j.at("header"), "revision");
    if (j.contains("kvs"))
        for (const json& kv : j.at("kvs"))
            r.kvs.push_back({base64_decode(kv.value("key", std::string())), base64_decode(kv.value("value", std::string())),
                             number(kv, "create_revision"), number(kv, "lease")});
    return r;
}

std::string put_request(std::string_view key, std::string_view value, std::int64_t lease)
{
    return json{{"key", base64_encode(key)}, {"value", base64_encode(value)}, {"lease", std::to_string(lease)}}.dump();
}

std::string delete_request(std::string_view key)
{
    return json{{"key", base64_encode(key)}}.dump();
}

std::string watch_prefix_request(std::string_view prefix, std::int64_t start_revision)
{
    return json{{"create_request",
                 {{"key", base64_encode(prefix)},
                  {"range_end", base64_encode(prefix_range_end(prefix))},
                  {"start_revision", std::to_string(start_revision)}}}}
        .dump();
}

static std::vector<WatchEvent> parse_watch_line_unchecked(std::string_view line)
{
    json j = parse(line, "a watch");
    if (!j.contains("result"))
        throw EtcdError("etcd's watch stream sent no result: " + std::string(line.substr(0, 200)));
    const json& r = j.at("result");
    if (r.value("canceled", false))
        throw EtcdError("etcd cancelled the watch: " + r.value("cancel_reason", std::string("no reason given")));
    std::vector<WatchEvent> events;
    if (r.contains("events"))
        for (const json& e : r.at("events"))
            events.push_back({e.value("type", std::string()) == "DELETE",
                              e.contains("kv") ? base64_decode(e.at("kv").value("key", std::string())) : std::string()});
    return events;
}

LeaseGrant parse_lease_grant(std::string_view reply)
{
    return checked([&] { return parse_lease_grant_unchecked(reply); });
}

std::int64_t parse_lease_keepalive(std::string_view reply)
{
    return checked([&] { return parse_lease_keepalive_unchecked(reply); });
}

bool parse_txn_succeeded(std::string_view reply)
{
    return checked([&] { return parse_txn_succeeded_unchecked(reply); });
}

RangeReply parse_range(std::string_view reply)
{
    return checked([&] { return parse_range_unchecked(reply); });
}

void check_reply(std::string_view reply, std::string_view what)
{
    checked([&] { (void)parse(reply, what); });
}

std::vector<WatchEvent> parse_watch_line(std::string_view line)
{
    return checked([&] { return parse_watch_line_unchecked(line); });
}

} // namespace hgw::fleet
