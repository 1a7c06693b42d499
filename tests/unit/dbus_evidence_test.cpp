// ValidatePidFile's evidence dictionary, from verdicts on real files and
// real processes.

#include "core/validation.h"
#include "dbus/evidence.h"
#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace hgw;
using namespace hgw::bus;
using namespace hgw::test;

namespace {

template <typename T>
T value(const VariantMap& m, const std::string& key)
{
    auto it = m.find(key);
    REQUIRE(it != m.end());
    REQUIRE(it->second.containsValueOfType<T>());
    return it->second.get<T>();
}

// A PID that is certainly gone: a child we started and reaped.
pid_t reaped_pid()
{
    Child c = Child::spawn({"true"});
    REQUIRE(c.wait());
    return c.pid();
}

} // namespace

TEST_CASE("evidence of an empty home has no record keys", "[dbus][evidence]")
{
    TempHome home;
    Verdict v = validate(home.paths());
    REQUIRE(v.kind == VerdictKind::None);
    VariantMap m = verdict_evidence(v);
    CHECK_FALSE(value<bool>(m, "lock_held"));
    CHECK(value<std::string>(m, "summary") == v.summary);
    CHECK(value<std::string>(m, "boot_id") == current_boot_id());
    CHECK(m.count("pid") == 0);
    CHECK(m.count("reason") == 0);
    CHECK(m.count("liveness") == 0);
    CHECK(m.count("problem") == 0);
    CHECK(m.count("lock_holders") == 0);
}

TEST_CASE("evidence of a dead gateway's record shows why it is stale", "[dbus][evidence]")
{
    TempHome home;
    pid_t dead = reaped_pid();
    home.write("gateway.pid", R"({"pid": )" + std::to_string(dead) +
                                  R"(, "kind": "hermes-gateway", "argv": ["hermes", "gateway", "run"], "start_time": 12345, "boot_id": ")" +
                                  current_boot_id() + R"("})");
    Verdict v = validate(home.paths());
    REQUIRE(v.kind == VerdictKind::Stale);
    VariantMap m = verdict_evidence(v);
    CHECK(value<std::string>(m, "reason") == "process-gone");
    CHECK(value<std::uint32_t>(m, "pid") == static_cast<std::uint32_t>(dead));
    CHECK(value<std::uint64_t>(m, "start_time") == 12345);
    CHECK(value<std::vector<std::string>>(m, "argv") == std::vector<std::string>{"hermes", "gateway", "run"});
    CHECK(value<std::string>(m, "record_boot_id") == current_boot_id());
    CHECK(value<std::string>(m, "liveness") == "gone");
    CHECK(m.count("process_argv") == 0);
}

TEST_CASE("evidence of a record naming a live non-gateway shows the live process", "[dbus][evidence]")
{
    // This test process is alive and certainly not a Hermes gateway.
    TempHome home;
    pid_t self = ::getpid();
    home.write("gateway.pid", R"({"pid": )" + std::to_string(self) + "}");
    Verdict v = validate(home.paths());
    REQUIRE(v.kind == VerdictKind::Stale);
    VariantMap m = verdict_evidence(v);
    CHECK(value<std::string>(m, "reason") == "not-gateway");
    CHECK(value<std::uint32_t>(m, "pid") == static_cast<std::uint32_t>(self));
    CHECK(value<std::string>(m, "liveness") == "alive");
    CHECK(value<std::vector<std::string>>(m, "process_argv") == *read_cmdline(self));
    CHECK(value<std::uint64_t>(m, "process_start_time") == *read_start_time(self));
    CHECK(m.count("start_time") == 0); // the record had none
    CHECK(m.count("argv") == 0);
    CHECK(m.count("record_boot_id") == 0);
}

TEST_CASE("evidence of a corrupt record carries the problem", "[dbus][evidence]")
{
    TempHome home;
    home.write("gateway.pid", "not json at all");
    Verdict v = validate(home.paths());
    REQUIRE(v.kind == VerdictKind::Corrupt);
    VariantMap m = verdict_evidence(v);
    CHECK_FALSE(value<std::string>(m, "problem").empty());
    CHECK(value<std::string>(m, "problem") == v.file.problem);
    CHECK(m.count("pid") == 0);
}
