// Pure parsing of gateway records: what parse_record accepts and refuses (and
// why), what serialize_record writes, and Hermes' rule for "this command line
// is a gateway". No files, no processes.

#include "core/gateway_cmdline.h"
#include "core/pid_record.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <climits>
#include <string>
#include <vector>

using namespace hgw;

namespace {

const std::string kBom = "\xEF\xBB\xBF";

// Every field, compared one by one, so a failure names the field.
void check_same_record(const PidRecord& got, const PidRecord& want)
{
    CHECK(got.pid == want.pid);
    CHECK(got.kind == want.kind);
    CHECK(got.argv == want.argv);
    CHECK(got.start_time == want.start_time);
    CHECK(got.hermes_home == want.hermes_home);
    CHECK(got.boot_id == want.boot_id);
    REQUIRE(got.manager.has_value() == want.manager.has_value());
    if (want.manager) {
        CHECK(got.manager->pid == want.manager->pid);
        CHECK(got.manager->start_time == want.manager->start_time);
        CHECK(got.manager->name == want.manager->name);
        CHECK(got.manager->generation == want.manager->generation);
    }
}

PidRecord full_record()
{
    PidRecord r;
    r.pid = 4242;
    r.kind = "hermes-gateway";
    r.argv = std::vector<std::string>{"/usr/bin/hermes", "gateway", "run"};
    r.start_time = 1234567;
    r.hermes_home = "/home/alice/.hermes";
    r.boot_id = "0f3c2a1e-6b7d-4c5e-9a8b-7c6d5e4f3a2b";
    r.manager = ManagerInfo{77, 999, "hermes-gatewayd", 3};
    return r;
}

struct Refusal {
    std::string name;
    std::string bytes;
    std::string why; // a fragment of the parse error
};

} // namespace

TEST_CASE("parse_record: a full Hermes record with our extra fields", "[record][parse]")
{
    auto p = parse_record(R"({"pid":4242,"kind":"hermes-gateway","argv":["/usr/bin/hermes","gateway","run"],)"
                          R"("start_time":1234567,"hermes_home":"/home/alice/.hermes",)"
                          R"("boot_id":"0f3c2a1e-6b7d-4c5e-9a8b-7c6d5e4f3a2b",)"
                          R"("manager":{"pid":77,"start_time":999,"name":"hermes-gatewayd","generation":3}})");
    INFO("error: " << p.error);
    REQUIRE(p.record);
    CHECK(p.error.empty());
    check_same_record(*p.record, full_record());
    CHECK_FALSE(p.record->legacy);
}

TEST_CASE("parse_record: what Hermes itself writes, nulls and extra keys", "[record][parse]")
{
    // Python's json.dumps with default separators, a null start time, and a
    // key Hermes added later: readers go by key, so it must be ignored.
    auto p = parse_record("{\"pid\": 31337, \"kind\": \"hermes-gateway\", \"argv\": [\"hermes\", \"gateway\", \"run\"], "
                          "\"start_time\": null, \"hermes_home\": \"/root/.hermes\", \"gateway_state\": \"running\", "
                          "\"platforms\": {\"telegram\": {\"state\": \"connected\"}}}\n");
    INFO("error: " << p.error);
    REQUIRE(p.record);
    CHECK(p.record->pid == 31337);
    CHECK_FALSE(p.record->start_time);
    CHECK(p.record->hermes_home == "/root/.hermes");
    CHECK_FALSE(p.record->boot_id);
    CHECK_FALSE(p.record->manager);

    // Key order does not matter, and absent optional keys stay unknown.
    auto q = parse_record(R"({"hermes_home":"/h","pid":7})");
    REQUIRE(q.record);
    CHECK(q.record->pid == 7);
    CHECK_FALSE(q.record->kind);
    CHECK_FALSE(q.record->argv);
    CHECK_FALSE(q.record->start_time);
}

TEST_CASE("parse_record: a UTF-8 BOM and surrounding white space are accepted, as with utf-8-sig", "[record][parse]")
{
    for (const std::string& bytes : {kBom + R"({"pid": 4242})", kBom + "\r\n {\"pid\": 4242}\n\t ",
                                     std::string(" \n{\"pid\": 4242}\r\n"), kBom + "4242\n"}) {
        INFO("bytes: " << bytes);
        auto p = parse_record(bytes);
        INFO("error: " << p.error);
        REQUIRE(p.record);
        CHECK(p.record->pid == 4242);
    }
}

TEST_CASE("parse_record: a legacy bare integer is read as {\"pid\": N}", "[record][parse]")
{
    auto p = parse_record("4242\n");
    REQUIRE(p.record);
    CHECK(p.record->pid == 4242);
    CHECK(p.record->legacy);
    CHECK_FALSE(p.record->kind);
    CHECK_FALSE(p.record->start_time);

    CHECK_FALSE(parse_record(R"({"pid": 4242})").record->legacy);
    for (const char* bad : {"0", "-1", "true", "4242.0", "99999999999", "0042", "+42", "42 43"}) {
        INFO("legacy bytes: " << bad);
        CHECK_FALSE(parse_record(bad).record);
    }
}

TEST_CASE("parse_record: duplicate keys: the last one wins, as in Python's json", "[record][parse]")
{
    auto p = parse_record(R"({"pid": 1, "pid": 4242})");
    REQUIRE(p.record);
    CHECK(p.record->pid == 4242);
}

TEST_CASE("parse_record: malformed records are refused with a reason", "[record][parse]")
{
    const std::vector<Refusal> cases = {
        {"empty", "", "empty"},
        {"white space only", " \n\t\r\n ", "empty"},
        {"BOM only", kBom, "empty"},
        {"truncated JSON", R"({"pid": 4242, "kind": "herm)", "not valid JSON"},
        {"truncated after the pid", R"({"pid": 4242,)", "not valid JSON"},
        {"empty object", "{}", "no \"pid\" key"},
        {"pid missing", R"({"kind":"hermes-gateway","argv":["hermes","gateway","run"]})", "no \"pid\" key"},
        {"pid as a string", R"({"pid": "42"})", "string, not an integer"},
        {"pid as a float", R"({"pid": 42.5})", "not an integer"},
        {"pid as 42.0", R"({"pid": 42.0})", "not an integer"},
        {"pid in exponent form", R"({"pid": 4.2e1})", "not an integer"},
        {"pid true", R"({"pid": true})", "boolean, not an integer"},
        {"pid false", R"({"pid": false})", "boolean, not an integer"},
        {"pid null", R"({"pid": null})", "null, not an integer"},
        {"pid 0", R"({"pid": 0})", "must be > 0"},
        {"pid -1", R"({"pid": -1})", "must be > 0"},
        {"pid -0", R"({"pid": -0})", "must be > 0"},
        {"pid INT_MAX + 1", R"({"pid": 2147483648})", "larger than any PID"},
        {"pid 2^40", R"({"pid": 1099511627776})", "larger than any PID"},
        {"pid 2^63 - 1", R"({"pid": 9223372036854775807})", "larger than any PID"},
        {"pid -2^63", R"({"pid": -9223372036854775808})", "must be > 0"},
        {"pid 2^64 (past uint64)", R"({"pid": 18446744073709551616})", "not an integer"},
        {"pid NaN", R"({"pid": NaN})", "not valid JSON"},
        {"pid Infinity", R"({"pid": Infinity})", "not valid JSON"},
        {"pid -Infinity", R"({"pid": -Infinity})", "not valid JSON"},
        {"pid an object", R"({"pid": {"x": [1, 2]}})", "object, not an integer"},
        {"pid an array", R"({"pid": [4242]})", "array, not an integer"},
        {"a JSON array", "[4242]", "a JSON array"},
        {"a JSON string", R"("4242")", "a JSON string"},
        {"JSON null", "null", "a JSON null"},
        {"JSON true", "true", "a JSON boolean"},
        {"a float at top level", "4242.5", "a JSON number"},
        {"invalid UTF-8 in a string", "{\"pid\": 4242, \"kind\": \"\xff\xfe\"}", "not valid JSON"},
        {"binary garbage", std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10), "not valid JSON"},
        {"NUL bytes", std::string(8, '\0'), "not valid JSON"},
        {"UTF-16 with its BOM", std::string("\xff\xfe{\0\"\0p\0i\0d\0\"\0:\0" "1\0}\0", 20), "not valid JSON"},
        {"trailing garbage", R"({"pid": 4242} xyz)", "not valid JSON"},
        {"two records", R"({"pid": 4242}{"pid": 4243})", "not valid JSON"},
        {"single quotes (a Python repr)", "{'pid': 4242}", "not valid JSON"},
        {"comments", "{\"pid\": 4242 /* live */}", "not valid JSON"},
        {"argv a string", R"({"pid": 4242, "argv": "hermes gateway run"})", "\"argv\" is string, not a list"},
        {"argv an object", R"({"pid": 4242, "argv": {"0": "hermes"}})", "\"argv\" is object, not a list"},
        {"argv holding a number", R"({"pid": 4242, "argv": ["hermes", 7, "run"]})", "\"argv\" holds a number"},
        {"argv holding null", R"({"pid": 4242, "argv": ["hermes", null]})", "\"argv\" holds a null"},
        {"argv holding a list", R"({"pid": 4242, "argv": [["hermes"]]})", "\"argv\" holds a array"},
        {"start_time negative", R"({"pid": 4242, "start_time": -5})", "\"start_time\" is number"},
        {"start_time a string", R"({"pid": 4242, "start_time": "1234567"})", "\"start_time\" is string"},
        {"start_time a float", R"({"pid": 4242, "start_time": 12.5})", "\"start_time\" is number"},
        {"start_time true", R"({"pid": 4242, "start_time": true})", "\"start_time\" is boolean"},
        {"kind a number", R"({"pid": 4242, "kind": 1})", "\"kind\" is number, not a string"},
        {"hermes_home a list", R"({"pid": 4242, "hermes_home": ["/h"]})", "\"hermes_home\" is array"},
        {"boot_id a number", R"({"pid": 4242, "boot_id": 5})", "\"boot_id\" is number"},
        {"manager a string", R"({"pid": 4242, "manager": "gatewayd"})", "\"manager\" is not an object"},
        {"manager without a pid", R"({"pid": 4242, "manager": {"name": "x"}})", "\"manager\" is not an object with a pid"},
        {"manager pid -1", R"({"pid": 4242, "manager": {"pid": -1}})", "manager: \"pid\" -1"},
        {"manager name a number", R"({"pid": 4242, "manager": {"pid": 9, "name": 3}})", "manager: \"name\" is number"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION("refused: " << c.name)
        {
            auto p = parse_record(c.bytes);
            INFO("error: " << p.error);
            CHECK_FALSE(p.record);
            CHECK_THAT(p.error, Catch::Contains(c.why));
        }
    }
}

TEST_CASE("parse_record: pid bounds", "[record][parse]")
{
    CHECK(parse_record(R"({"pid": 1})").record->pid == 1);
    auto max = parse_record(R"({"pid": 2147483647})");
    REQUIRE(max.record);
    CHECK(max.record->pid == INT_MAX);
    // A large start time is fine: it is a tick count, not a PID.
    auto big = parse_record(R"({"pid": 5, "start_time": 18446744073709551615})");
    REQUIRE(big.record);
    CHECK(big.record->start_time == UINT64_MAX);
}

TEST_CASE("parse_record: deeply nested JSON neither crashes nor overflows the stack", "[record][parse]")
{
    // nlohmann's parser keeps its own stack and its destructor is iterative
    // (3.11); these would blow a recursive parser's stack, above all under ASan.
    constexpr int kDepth = 10000;
    std::string arrays = std::string(kDepth, '[') + std::string(kDepth, ']');

    auto a = parse_record(arrays);
    CHECK_FALSE(a.record);
    CHECK_THAT(a.error, Catch::Contains("a JSON array"));

    auto unclosed = parse_record(std::string(kDepth, '['));
    CHECK_FALSE(unclosed.record);
    CHECK_THAT(unclosed.error, Catch::Contains("not valid JSON"));

    auto as_pid = parse_record(R"({"pid": )" + arrays + "}");
    CHECK_FALSE(as_pid.record);
    CHECK_THAT(as_pid.error, Catch::Contains("array, not an integer"));

    // Deep junk under a key nobody reads is ignored, like any extra key.
    auto extra = parse_record(R"({"pid": 4242, "junk": )" + arrays + "}");
    INFO("error: " << extra.error);
    REQUIRE(extra.record);
    CHECK(extra.record->pid == 4242);

    std::string objects;
    for (int i = 0; i < kDepth; ++i)
        objects += R"({"a":)";
    objects += "1" + std::string(kDepth, '}');
    auto deep_objects = parse_record(objects);
    CHECK_FALSE(deep_objects.record);
    CHECK_THAT(deep_objects.error, Catch::Contains("no \"pid\" key"));
}

TEST_CASE("parse_record: a lone surrogate escape, as Python writes a non-UTF-8 argv, is accepted",
          "[record][parse]")
{
    // Python decodes a non-UTF-8 argv byte with surrogateescape (b'\xe9' ->
    // '\udce9') and json.dumps writes it as the escape "\udce9"; Python's
    // json.loads reads it back. So a real Hermes gateway installed under, say,
    // /opt/caf\xe9/ publishes this record, and Hermes accepts it: so must we.
    auto p = parse_record(R"({"pid": 4242, "kind": "hermes-gateway", "argv": ["/opt/caf\udce9/hermes", "gateway", "run"]})");
    INFO("error: " << p.error);
    REQUIRE(p.record);
    CHECK(p.record->pid == 4242);
    REQUIRE(p.record->argv);
    CHECK((*p.record->argv)[0] == "/opt/caf\xEF\xBF\xBD/hermes"); // U+FFFD

    // A proper pair stays as it is; an escaped backslash is not an escape.
    auto pair = parse_record(R"({"pid": 1, "argv": ["\ud83d\ude00", "\\udce9"]})");
    REQUIRE(pair.record);
    CHECK((*pair.record->argv)[0] == "\xF0\x9F\x98\x80");
    CHECK((*pair.record->argv)[1] == "\\udce9");
}

TEST_CASE("serialize_record: round trips through parse_record", "[record][serialize]")
{
    PidRecord minimal;
    minimal.pid = 1;

    PidRecord odd_strings = full_record();
    odd_strings.argv = std::vector<std::string>{"C:\\Program Files\\hermes.exe", "say \"hi\"", "tab\there",
                                                "new\nline", "ünïcødé ✓", "", "{\"pid\": 1}"};
    odd_strings.hermes_home = "/home/al ice/.hermes (copy)";
    odd_strings.start_time = UINT64_MAX;
    odd_strings.pid = INT_MAX;

    PidRecord null_start = full_record();
    null_start.start_time.reset();
    null_start.boot_id.reset();
    null_start.manager = ManagerInfo{12, std::nullopt, "", std::nullopt};

    PidRecord empty_argv = full_record();
    empty_argv.argv = std::vector<std::string>{};

    const std::vector<std::pair<std::string, PidRecord>> cases = {
        {"minimal", minimal}, {"full", full_record()}, {"odd strings", odd_strings},
        {"unknown start time and manager fields", null_start}, {"empty argv", empty_argv}};
    for (const auto& [name, record] : cases) {
        DYNAMIC_SECTION("round trip: " << name)
        {
            std::string text = serialize_record(record);
            INFO("serialized: " << text);
            auto p = parse_record(text);
            INFO("error: " << p.error);
            REQUIRE(p.record);
            PidRecord want = record;
            if (!want.argv)
                want.argv = std::vector<std::string>{}; // written as [], read back as []
            check_same_record(*p.record, want);
            CHECK_FALSE(p.record->legacy);
            // And it is stable: writing what we read gives the same bytes.
            CHECK(serialize_record(*p.record) == text);
        }
    }
}

TEST_CASE("serialize_record: Hermes' keys first, in Hermes' order, nulls for unknowns", "[record][serialize]")
{
    PidRecord r;
    r.pid = 4242;
    std::string text = serialize_record(r);
    CHECK(text.rfind(R"({"pid":4242,)", 0) == 0);

    auto j = nlohmann::ordered_json::parse(text);
    std::vector<std::string> keys;
    for (const auto& item : j.items())
        keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"pid", "kind", "argv", "start_time", "hermes_home"});
    CHECK(j["kind"].is_null());
    CHECK(j["argv"] == nlohmann::ordered_json::array());
    CHECK(j["start_time"].is_null());
    CHECK(j["hermes_home"].is_null());

    auto full = nlohmann::ordered_json::parse(serialize_record(full_record()));
    keys.clear();
    for (const auto& item : full.items())
        keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"pid", "kind", "argv", "start_time", "hermes_home", "boot_id", "manager"});
    CHECK(full["manager"]["name"] == "hermes-gatewayd");
    CHECK(full["manager"]["generation"] == 3);
}

TEST_CASE("serialize_record: a legacy record is written as a full object", "[record][serialize]")
{
    auto legacy = parse_record("4242");
    REQUIRE(legacy.record);
    REQUIRE(legacy.record->legacy);
    auto again = parse_record(serialize_record(*legacy.record));
    REQUIRE(again.record);
    CHECK(again.record->pid == 4242);
    CHECK_FALSE(again.record->legacy);
}

TEST_CASE("serialize_record: strings that are not UTF-8 do not throw and give valid JSON", "[record][serialize]")
{
    // argv comes from /proc/<pid>/cmdline, which may hold any bytes.
    PidRecord r = full_record();
    r.argv = std::vector<std::string>{"/opt/caf\xe9/hermes", "gateway", "run"};
    r.hermes_home = std::string("/home/\xff\xfe");
    std::string text;
    REQUIRE_NOTHROW(text = serialize_record(r));
    auto p = parse_record(text);
    INFO("serialized: " << text << "\nerror: " << p.error);
    REQUIRE(p.record);
    CHECK(p.record->pid == r.pid);
    REQUIRE(p.record->argv);
    CHECK((*p.record->argv)[0] == "/opt/caf\xEF\xBF\xBD/hermes"); // U+FFFD
    CHECK((*p.record->argv)[2] == "run");
}

TEST_CASE("looks_like_gateway: Hermes' rule for gateway command lines", "[record][cmdline]")
{
    struct Case {
        std::vector<std::string> argv;
        bool gateway;
    };
    const std::vector<Case> cases = {
        // Gateways.
        {{"hermes", "gateway", "run"}, true},
        {{"/usr/local/bin/hermes", "gateway", "run"}, true},
        {{"/usr/bin/python3", "/home/alice/.local/bin/hermes", "gateway", "run", "--replace"}, true},
        {{"hermes", "gateway"}, true}, // bare `hermes gateway` runs the gateway
        {{"hermes", "gateway", "restart"}, true},
        {{"hermes", "-p", "work", "gateway", "run"}, true},
        {{"hermes", "--profile", "work", "gateway", "run"}, true},
        {{"hermes", "--profile=work", "gateway"}, true},
        {{"hermes", "-p=work", "gateway", "run"}, true},
        {{"hermes", "gateway", "-p", "work", "run"}, true}, // selectors are stripped anywhere
        {{"python", "-m", "hermes_cli.main", "gateway", "run"}, true},
        {{"/usr/bin/python3.11", "-m", "hermes_cli.main", "-p", "x", "gateway", "run"}, true},
        {{"/usr/bin/python3", "/opt/hermes/hermes_cli/main.py", "gateway", "run", "--replace"}, true},
        {{"/usr/bin/python3", "/opt/hermes-agent/gateway/run.py"}, true},
        {{"python", "gateway/run.py"}, true},
        {{"hermes-gateway"}, true},
        {{"/opt/hermes/bin/hermes-gateway", "--verbose"}, true},
        {{"C:\\Program Files\\Hermes\\hermes.exe", "gateway", "run"}, true},
        {{"C:\\Hermes\\hermes-gateway.exe"}, true},
        {{"HERMES", "GATEWAY", "RUN"}, true},          // Hermes lower-cases
        {{"\"/usr/bin/hermes\"", "'gateway'", "run"}, true}, // and strips quotes
        {{"hermes gateway run"}, true},                 // argv joined and split, as Hermes does
        {{"/usr/bin/hermes", "gateway run"}, true},
        // Not gateways.
        {{"hermes", "gateway", "status"}, false},
        {{"hermes", "gateway", "stop"}, false},
        {{"hermes", "gateway", "start"}, false},
        {{"hermes", "gateway", "install"}, false},
        {{"hermes", "-p", "x", "gateway", "status"}, false},
        {{"hermes", "-p", "gateway", "run"}, false}, // "gateway" is the profile's name
        {{"hermes", "--profile", "gateway"}, false},
        {{"hermes"}, false},
        {{"hermes", "chat"}, false},
        {{"hermes", "cron", "run"}, false},
        {{"python", "-m", "tui_gateway"}, false},
        {{"python", "-m", "tui_gateway", "run"}, false},
        {{"python", "-m", "hermes_cli.main", "chat"}, false},
        {{"/opt/hermes/notgateway/run.py"}, false},
        {{"/opt/hermes/gateway/run.pyc"}, false},
        {{"hermes-gateway-helper"}, false},
        {{"/usr/bin/hermesx", "gateway", "run"}, false},
        {{"node", "gateway", "run"}, false},
        {{"/usr/bin/sleep", "600"}, false},
        {{}, false},
        {{""}, false},
        {{" ", "\t"}, false},
    };
    for (const auto& c : cases) {
        std::string line;
        for (const auto& a : c.argv)
            line += "[" + a + "] ";
        INFO("argv: " << line << "-> expected " << (c.gateway ? "gateway" : "not a gateway"));
        CHECK(looks_like_gateway(c.argv) == c.gateway);
    }
}
