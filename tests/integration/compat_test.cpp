// Compatibility with Hermes, both ways: records the (stub) gateway writes are
// judged right by us, records we write are accepted by a Hermes-style reader,
// and the original bug ("PID file race lost" after SIGKILL) is reproduced and
// repaired by `pidfile clean`.

#include "core/home_lock.h"
#include "core/pidfile.h"
#include "helpers/inherited_lock.h"
#include "process/process_info.h"
#include "support/child_process.h"
#include "support/stub_gateway.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace hgw;
using namespace hgw::test;
using nlohmann::json;

namespace {

const std::string kRaceLost = "PID file race lost to another gateway instance. Exiting.";
const std::string kLockHeld = "Gateway runtime lock is already held by another instance. Exiting.";

// A child's options that keep its output for Child::output().
SpawnOptions capturing()
{
    SpawnOptions opts;
    opts.capture_output = true;
    return opts;
}

// What the Hermes-style reader (tests/stub/hermes_status.py) concludes.
struct HermesView {
    int exit_code = -1;
    bool running = false;
    json pid;
};

HermesView hermes_status(const TempHome& home)
{
    RunResult r = run({source_path("tests/stub/hermes_status.py"), "--home", home.dir().string()});
    INFO("hermes_status.py: " << r.output);
    REQUIRE_NOTHROW(json::parse(r.output));
    json j = json::parse(r.output);
    return {r.exit_code, j.at("running").get<bool>(), j.at("pid")};
}

bool exited_with(const std::optional<int>& status, int code)
{
    return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

} // namespace

TEST_CASE("stub records: live while running, stale after SIGKILL, none after a clean SIGTERM exit",
          "[compat][process]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());

    SECTION("clean exit")
    {
        Child gw = start_stub_gateway(home, notify);
        REQUIRE(notify.wait_for("READY=1"));

        Verdict v = validate(home.paths());
        INFO(v.summary);
        CHECK(v.kind == VerdictKind::Live);
        REQUIRE(v.record());
        // Hermes' record, read as Hermes wrote it: no boot id of ours.
        const PidRecord& r = *v.record();
        CHECK(r.pid == gw.pid());
        CHECK(r.kind == std::string(kGatewayKind));
        CHECK(r.start_time == read_start_time(gw.pid()));
        CHECK(r.hermes_home == canonical_home(home.dir()).string());
        CHECK_FALSE(r.boot_id);
        CHECK(v.lock.held);
        CHECK(hermes_status(home).pid == gw.pid());

        gw.signal(SIGTERM);
        CHECK(exited_with(gw.wait(), 0));
        v = validate(home.paths());
        INFO(v.summary);
        CHECK(v.kind == VerdictKind::None);
        CHECK_FALSE(v.lock.held);
        CHECK_FALSE(hermes_status(home).running);
    }
    SECTION("SIGKILL")
    {
        Child gw = start_stub_gateway(home, notify);
        REQUIRE(notify.wait_for("READY=1"));
        CHECK(validate(home.paths()).kind == VerdictKind::Live);

        gw.signal(SIGKILL);
        REQUIRE(gw.wait());
        Verdict v = validate(home.paths());
        INFO(v.summary);
        CHECK(v.kind == VerdictKind::Stale);
        CHECK(v.reason == StaleReason::ProcessGone);
        REQUIRE(v.record());
        CHECK(v.record()->pid == gw.pid());
        // Hermes agrees: not running (its lock probe finds the lock free).
        HermesView h = hermes_status(home);
        CHECK_FALSE(h.running);
        CHECK(h.exit_code == 3);
    }
}

TEST_CASE("a record the daemon's path writes (lock_home, publish, hand_over) is accepted by the Hermes reader",
          "[compat][process]")
{
    // A gateway that writes no files, spawned holding the lock we took, as
    // hermes-gatewayd --write-pidfile runs it (issue 8, item 8).
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    LockOutcome step1 = lock_home(home.paths());
    INFO(step1.message);
    REQUIRE(step1.locked);
    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}, {"NOTIFY_SOCKET", notify.path()}};
    Child gw = spawn_inheriting(step1.locked->fd(), {source_path("tests/stub/hermes"), "gateway", "run", "--no-pidfile"},
                                opts);
    PidRecord rec = record_for_process(gw.pid(), home.dir());
    REQUIRE(step1.locked->publish(rec));
    step1.locked->hand_over();
    REQUIRE(notify.wait_for("READY=1"));

    HermesView h = hermes_status(home);
    CHECK(h.running);
    CHECK(h.exit_code == 0);
    CHECK(h.pid == gw.pid());
    // Hermes also reads gateway.lock as a record: ours is there, whole.
    auto in_lock = parse_record(home.read("gateway.lock"));
    REQUIRE(in_lock.record);
    CHECK(is_exactly(*in_lock.record, rec));
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::Live);
    CHECK(v.holds_lock == Holds::Yes);
    CHECK(v.lock.holders == std::vector<pid_t>{gw.pid()}); // not us, who took it

    // Gone, the gateway leaves a record Hermes no longer believes, and
    // clean removes it.
    gw.signal(SIGKILL);
    REQUIRE(gw.wait());
    h = hermes_status(home);
    CHECK_FALSE(h.running);
    CHECK(clean(home.paths()).action == CleanOutcome::Action::Removed);
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK(home.exists("gateway.lock")); // never unlinked
    CHECK(validate(home.paths()).kind == VerdictKind::None);
}

TEST_CASE("after a SIGKILL the stub cannot start again ('PID file race lost') until pidfile clean",
          "[compat][process][bug]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    Child first = start_stub_gateway(home, notify);
    REQUIRE(notify.wait_for("READY=1"));
    first.signal(SIGKILL);
    REQUIRE(first.wait());
    REQUIRE(home.exists("gateway.pid"));

    // The original bug: the leftover gateway.pid blocks every start.
    for (int attempt = 0; attempt < 2; ++attempt) {
        Child again = start_stub_gateway(home, notify, {}, capturing());
        auto status = again.wait();
        std::string out = again.output();
        INFO("attempt " << attempt << ": " << out);
        CHECK(exited_with(status, 1));
        CHECK(out.find(kRaceLost) != std::string::npos);
    }

    RunResult clean = run({HGW_CTL_PATH, "pidfile", "clean", "--json", "--home", home.dir().string()});
    INFO(clean.output);
    CHECK(clean.exit_code == 0);
    json c = json::parse(clean.output);
    CHECK(c["action"] == "removed");
    CHECK(c["verdict"]["reason"] == "process-gone");
    CHECK_FALSE(home.exists("gateway.pid"));

    Child fixed = start_stub_gateway(home, notify);
    REQUIRE(notify.wait_for("READY=1"));
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::Live);
    REQUIRE(v.record());
    CHECK(v.record()->pid == fixed.pid());
    CHECK(hermes_status(home).pid == fixed.pid());
}

TEST_CASE("two stubs started at once: exactly one runs, the other exits 1", "[compat][process][race]")
{
    // A few rounds, each in a fresh home, to meet more interleavings.
    for (int round = 0; round < 5; ++round) {
        INFO("round " << round);
        TempHome home;
        NotifyListener notify((home.dir() / "notify.sock").string());
        Child a = start_stub_gateway(home, notify, {}, capturing());
        Child b = start_stub_gateway(home, notify, {}, capturing());

        // Only a winner ever sends READY=1; the record says who it is.
        REQUIRE(notify.wait_for("READY=1"));
        Verdict v = validate(home.paths());
        INFO(v.summary);
        REQUIRE(v.kind == VerdictKind::Live);
        REQUIRE(v.record());
        pid_t winner_pid = v.record()->pid;
        REQUIRE((winner_pid == a.pid() || winner_pid == b.pid()));
        Child& winner = winner_pid == a.pid() ? a : b;
        Child& loser = winner_pid == a.pid() ? b : a;

        auto status = loser.wait();
        std::string out = loser.output();
        INFO("loser: " << out);
        CHECK(exited_with(status, 1));
        CHECK((out.find(kLockHeld) != std::string::npos || out.find(kRaceLost) != std::string::npos));

        // The winner still runs, and Hermes sees the same one.
        CHECK_FALSE(winner.wait_exited_unreaped(0ms));
        CHECK(hermes_status(home).pid == winner_pid);
        CHECK(validate(home.paths()).record()->pid == winner_pid);

        winner.signal(SIGTERM);
        CHECK(exited_with(winner.wait(), 0));
        CHECK(validate(home.paths()).kind == VerdictKind::None);
    }
}
