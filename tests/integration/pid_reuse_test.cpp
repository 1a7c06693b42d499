// Process identity against real PID reuse: a gateway's PID handed to an
// unrelated process inside a PID namespace, open_verified on real children,
// and a record carried over from another boot.

#include "core/pidfile.h"
#include "process/process_handle.h"
#include "process/process_info.h"
#include "support/child_process.h"
#include "support/stub_gateway.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

using namespace hgw;
using namespace hgw::test;
using nlohmann::json;

namespace {

// A plain child that reports READY=1 once it has exec'd, then waits. Waiting
// for that matters: until exec, the child is a copy of this test binary and
// a catchable signal would run the test framework's handlers in it.
struct Waiter {
    TempHome dir;
    NotifyListener notify{(dir.dir() / "notify.sock").string()};
    Child child = spawn(notify);
    Waiter() { REQUIRE(notify.wait_for("READY=1")); }

    static Child spawn(const NotifyListener& to)
    {
        SpawnOptions opts;
        opts.env = {{"NOTIFY_SOCKET", to.path()}};
        return Child::spawn({"/usr/bin/python3", "-c",
                             "import os, signal, socket\n"
                             "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                             "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
                             "while True: signal.pause()\n"},
                            opts);
    }
};

ProcessIdentity identity_of(pid_t pid)
{
    auto start = read_start_time(pid);
    REQUIRE(start);
    return {pid, *start, current_boot_id()};
}

// A boot id of the right shape that is not this boot's.
std::string other_boot_id()
{
    std::string id = current_boot_id();
    REQUIRE_FALSE(id.empty());
    id[0] = id[0] == '0' ? '1' : '0';
    return id;
}

bool contains(const std::string& haystack, const std::string& needle)
{
    return haystack.find(needle) != std::string::npos;
}

} // namespace

// Not a test: a probe that pid_reuse_driver.py runs inside its PID namespace,
// where PIDs mean what the namespace's /proc says, to ask open_verified about
// an identity passed in the environment. Hidden, so it never runs on its own.
TEST_CASE("pidns probe: open_verified on the identity in HGW_PROBE_*", "[.pidns-probe]")
{
    const char* pid = std::getenv("HGW_PROBE_PID");
    const char* start = std::getenv("HGW_PROBE_START_TIME");
    const char* boot = std::getenv("HGW_PROBE_BOOT_ID");
    if (!pid || !start || !boot) {
        WARN("pidns probe run without HGW_PROBE_PID/START_TIME/BOOT_ID; nothing to probe");
        return;
    }
    ProcessIdentity id{static_cast<pid_t>(std::atol(pid)), std::strtoull(start, nullptr, 10), boot};
    std::string why;
    auto handle = ProcessHandle::open_verified(id, &why);
    std::cout << "OPEN_VERIFIED " << (handle ? std::string("accepted") : "refused: " + why) << std::endl;
}

TEST_CASE("pid reuse in a PID namespace: the new owner of a gateway's PID is judged pid-reused and never signalled",
          "[pid-reuse][process][root]")
{
    if (::geteuid() != 0) {
        WARN("SKIPPED (needs root): unshare --pid and ns_last_pid; "
             "run the suite as root to cover it");
        return;
    }
    std::string unshare = find_program("unshare");
    REQUIRE_FALSE(unshare.empty());

    TempHome home;
    auto out = home.dir() / "driver-result.json";
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    RunResult r = run({unshare, "--pid", "--fork", "--mount-proc", "--kill-child",
                       source_path("tests/scripts/pid_reuse_driver.py"), "--home", home.dir().string(),
                       "--ctl", HGW_CTL_PATH, "--stub", source_path("tests/stub/hermes"), "--probe", self,
                       "--out", out.string()},
                      {}, 4 * kTimeout);
    INFO("driver output:\n" << r.output);
    REQUIRE(home.exists(out.filename()));
    json res = json::parse(home.read(out.filename()));
    INFO("driver observations:\n" << res.dump(1));
    // As root the scenario must run: a kernel that cannot do it fails the
    // test rather than pass it unexercised.
    INFO("unsupported: " << res.value("unsupported", std::string("-")));
    REQUIRE(r.exit_code == 0);
    REQUIRE(res["namespace_pid"] == 1); // we really ran as init of a new namespace

    // The stub wrote an honest record and died by SIGKILL, leaving it behind.
    const int gw_pid = res["stub_pid"];
    CHECK(res["stub_record"]["pid"] == gw_pid);
    CHECK(res["stub_record"]["start_time"] == res["stub_start_time"]);
    CHECK(res["stub_returncode"] == -SIGKILL);

    // The unrelated process got exactly the gateway's PID, but is younger.
    REQUIRE(res["bystander_pid"] == gw_pid);
    REQUIRE(res["bystander_start_time"] != res["stub_start_time"]);

    // open_verified, inside the namespace: the recorded identity is refused
    // because the PID was reused; the current owner's identity is accepted.
    CHECK(res["probe_recorded_identity"]["exit"] == 0);
    CHECK(res["probe_recorded_identity"]["line"].get<std::string>().rfind("OPEN_VERIFIED refused: PID reused", 0) == 0);
    CHECK(res["probe_bystander_identity"]["exit"] == 0);
    CHECK(res["probe_bystander_identity"]["line"] == "OPEN_VERIFIED accepted");

    // pidfile check: stale, pid-reused (exit 1).
    const json& check = res["check"];
    CHECK(check["exit"] == 1);
    REQUIRE(check["json"].is_object());
    CHECK(check["json"]["verdict"] == "stale");
    CHECK(check["json"]["reason"] == "pid-reused");
    CHECK(check["json"]["process"]["start_time"] == res["bystander_start_time"]);

    // pidfile clean: the record is gone, the lock file stays.
    const json& clean = res["clean"];
    CHECK(clean["exit"] == 0);
    REQUIRE(clean["json"].is_object());
    CHECK(clean["json"]["action"] == "removed");
    CHECK(clean["json"]["verdict"]["reason"] == "pid-reused");
    CHECK(res["pid_file_after_clean"] == false);
    CHECK(res["lock_file_after_clean"] == true);
    CHECK_FALSE(home.exists("gateway.pid"));

    // The bystander is the same living process and received no signal: its
    // log holds only the marker the driver sent last (see the driver).
    CHECK(res["marker_seen"] == true);
    CHECK(res["bystander_alive"] == true);
    CHECK(res["bystander_same_process"] == true);
    CHECK(res["signal_log"] == "SIGRTMAX\n");
}

TEST_CASE("open_verified accepts a live child's exact identity", "[pid-reuse][process]")
{
    Waiter w;
    Child& c = w.child;
    ProcessIdentity id = identity_of(c.pid());
    std::string why;
    auto handle = ProcessHandle::open_verified(id, &why);
    INFO(why);
    REQUIRE(handle);
    CHECK(handle->pid() == c.pid());
    CHECK(handle->running());

    // The handle's signal reaches exactly that child.
    CHECK(handle->send_signal(SIGTERM));
    auto status = c.wait();
    REQUIRE(status);
    CHECK(WIFSIGNALED(*status));
    CHECK(WTERMSIG(*status) == SIGTERM);
}

TEST_CASE("open_verified refuses a live child under a wrong start time", "[pid-reuse][process]")
{
    Waiter w;
    Child& c = w.child;
    ProcessIdentity id = identity_of(c.pid());
    for (std::uint64_t wrong : {id.start_time + 1, id.start_time - 1, std::uint64_t{0}}) {
        ProcessIdentity bad = id;
        bad.start_time = wrong;
        std::string why;
        CHECK_FALSE(ProcessHandle::open_verified(bad, &why));
        CHECK(contains(why, "PID reused"));
    }
    // Refusal sent nothing: the child still runs.
    CHECK_FALSE(c.wait_exited_unreaped(0ms));
}

TEST_CASE("open_verified refuses a live child under another boot id", "[pid-reuse][process]")
{
    Waiter w;
    Child& c = w.child;
    ProcessIdentity id = identity_of(c.pid());
    for (const std::string& boot : {other_boot_id(), std::string()}) {
        ProcessIdentity bad = id;
        bad.boot_id = boot;
        std::string why;
        CHECK_FALSE(ProcessHandle::open_verified(bad, &why));
        CHECK(contains(why, "another boot"));
    }
    CHECK_FALSE(c.wait_exited_unreaped(0ms));
}

TEST_CASE("open_verified refuses a SIGKILLed child, reaped or zombie", "[pid-reuse][process]")
{
    SECTION("zombie: exited, not yet reaped, so its PID is still reserved")
    {
        Waiter w;
    Child& c = w.child;
        ProcessIdentity id = identity_of(c.pid());
        c.signal(SIGKILL);
        REQUIRE(c.wait_exited_unreaped());
        std::string why;
        CHECK_FALSE(ProcessHandle::open_verified(id, &why));
        CHECK(why == "process is gone");
    }
    SECTION("reaped: the PID is free and may already name someone else")
    {
        Waiter w;
    Child& c = w.child;
        ProcessIdentity id = identity_of(c.pid());
        c.signal(SIGKILL);
        REQUIRE(c.wait());
        std::string why;
        CHECK_FALSE(ProcessHandle::open_verified(id, &why));
        // Gone, unless a newcomer took the PID meanwhile: then it is reused.
        CHECK((why == "process is gone" || contains(why, "PID reused")));
    }
}

TEST_CASE("a verified handle keeps naming its process after it is reaped", "[pid-reuse][process]")
{
    Waiter w;
    Child& c = w.child;
    auto handle = ProcessHandle::open_verified(identity_of(c.pid()));
    REQUIRE(handle);
    c.signal(SIGKILL);
    REQUIRE(c.wait());
    // Whatever owns the PID number now, the pidfd cannot reach it.
    CHECK_FALSE(handle->running());
    CHECK_FALSE(handle->send_signal(SIGTERM));
}

TEST_CASE("a live gateway's pid and start time recorded under another boot id is stale previous-boot",
          "[pid-reuse][process][boot]")
{
    // A real gateway runs in its own home; its identity is copied into a
    // second home where no lock is held, as a record restored from disk after
    // a reboot would look if the PID and start ticks happened to repeat.
    TempHome gw_home;
    NotifyListener notify((gw_home.dir() / "notify.sock").string());
    Child gw = start_stub_gateway(gw_home, notify);
    REQUIRE(notify.wait_for("READY=1"));

    TempHome home;
    PidRecord rec = record_for_process(gw.pid(), home.dir());
    REQUIRE(rec.start_time);
    REQUIRE(rec.argv);

    // Control: with this boot's id the same record passes every test of
    // identity and is judged on the lock alone (not held by that process:
    // not-holder), so only the boot id can make the difference below.
    home.write("gateway.pid", serialize_record(rec));
    Verdict control = validate(home.paths());
    INFO(control.summary);
    REQUIRE(control.kind == VerdictKind::Stale);
    REQUIRE(control.reason == StaleReason::NotHolder);

    rec.boot_id = other_boot_id();
    const std::string bytes = serialize_record(rec);
    home.write("gateway.pid", bytes);
    Verdict v = validate(home.paths());
    INFO(v.summary);
    CHECK(v.kind == VerdictKind::Stale);
    CHECK(v.reason == StaleReason::PreviousBoot);

    RunResult check = run({HGW_CTL_PATH, "pidfile", "check", "--json", "--home", home.dir().string()});
    INFO(check.output);
    CHECK(check.exit_code == 1);
    json j = json::parse(check.output);
    CHECK(j["verdict"] == "stale");
    CHECK(j["reason"] == "previous-boot");

    RunResult clean = run({HGW_CTL_PATH, "pidfile", "clean", "--json", "--home", home.dir().string()});
    INFO(clean.output);
    CHECK(clean.exit_code == 0);
    CHECK(json::parse(clean.output)["action"] == "removed");
    CHECK_FALSE(home.exists("gateway.pid"));

    // The real gateway was not touched: still running, its own record live.
    CHECK_FALSE(gw.wait_exited_unreaped(0ms));
    Verdict own = validate(gw_home.paths());
    CHECK(own.kind == VerdictKind::Live);
    REQUIRE(own.record());
    CHECK(own.record()->pid == gw.pid());
}
