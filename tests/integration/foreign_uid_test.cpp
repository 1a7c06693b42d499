// Verdicts across users: EPERM from kill(pid, 0) means "alive, not ours",
// never "dead", and a user who may not touch a record does not remove it.
// These tests switch uids (setresuid in the spawned child), so they need root.

#include "core/pidfile.h"
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

using namespace hgw;
using namespace hgw::test;
using nlohmann::json;

namespace {

constexpr uid_t kGatewayUid = 65533; // a gateway's user that is not root
constexpr uid_t kOtherUid = 65534;   // someone else (nobody)

// Another uid cannot search root's home, where a per-user interpreter may
// live (pyenv); the system one serves every uid.
const std::string kSystemPath = "/usr/local/bin:/usr/bin:/bin";

bool require_root()
{
    if (::geteuid() == 0)
        return true;
    WARN("SKIPPED (needs root): this test switches uids; run the suite as root to cover it");
    return false;
}

Child start_stub(const TempHome& home, const NotifyListener& notify, std::optional<uid_t> uid = {})
{
    SpawnOptions opts;
    opts.env = {{"PATH", kSystemPath}};
    opts.uid = uid;
    return start_stub_gateway(home, notify, {}, opts);
}

RunResult ctl_as(uid_t uid, const std::string& action, const TempHome& home)
{
    SpawnOptions opts;
    opts.uid = uid;
    opts.env = {{"PATH", kSystemPath}};
    return run({HGW_CTL_PATH, "pidfile", action, "--json", "--home", home.dir().string()}, opts);
}

json parse_json(const RunResult& r)
{
    INFO(r.output);
    REQUIRE_NOTHROW(json::parse(r.output));
    return json::parse(r.output);
}

struct Snapshot {
    std::string pid_bytes;
    std::string lock_bytes;
    struct stat pid_st {};
};

Snapshot snapshot(const TempHome& home)
{
    Snapshot s;
    s.pid_bytes = home.read("gateway.pid");
    s.lock_bytes = home.read("gateway.lock");
    REQUIRE(::stat((home.dir() / "gateway.pid").c_str(), &s.pid_st) == 0);
    return s;
}

// Same bytes, and the very same inode (not removed and rewritten).
void require_unchanged(const TempHome& home, const Snapshot& before)
{
    Snapshot now = snapshot(home);
    CHECK(now.pid_bytes == before.pid_bytes);
    CHECK(now.lock_bytes == before.lock_bytes);
    CHECK(now.pid_st.st_ino == before.pid_st.st_ino);
    CHECK(now.pid_st.st_uid == before.pid_st.st_uid);
}

} // namespace

TEST_CASE("a root gateway checked by another uid is live (EPERM is alive) and that uid's clean removes nothing",
          "[foreign-uid][process][root]")
{
    if (!require_root())
        return;
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    Child gw = start_stub(home, notify);
    REQUIRE(notify.wait_for("READY=1"));
    Snapshot before = snapshot(home);
    REQUIRE(before.pid_st.st_uid == 0);

    RunResult check = ctl_as(kOtherUid, "check", home);
    INFO(check.output);
    CHECK(check.exit_code == 0);
    json v = parse_json(check);
    CHECK(v["verdict"] == "live");
    CHECK(v["record"]["pid"] == gw.pid());
    // The checker's kill(pid, 0) failed with EPERM, and that counted as alive.
    CHECK(v["process"]["liveness"] == "alive-not-ours");
    CHECK(v["process"]["uid"] == 0);
    CHECK(v["lock"]["held"] == true);
    // Its fd table is hidden from nobody: a gateway runs, but it is not
    // proven to hold the lock, so nothing may treat it as its own.
    CHECK(v["holds_lock"] == "unknown");

    // The lock is held: clean says busy without even trying to take it
    // (issue 8, item 9) and must not touch anything.
    RunResult clean = ctl_as(kOtherUid, "clean", home);
    INFO(clean.output);
    CHECK(clean.exit_code == 1);
    CHECK(parse_json(clean)["action"] == "busy");
    require_unchanged(home, before);

    CHECK_FALSE(gw.wait_exited_unreaped(0ms));
    CHECK(validate(home.paths()).kind == VerdictKind::Live);
}

TEST_CASE("a gateway of one uid is never stale to another uid, and survives its clean byte for byte",
          "[foreign-uid][process][root]")
{
    if (!require_root())
        return;
    TempHome home;
    REQUIRE(::chown(home.dir().c_str(), kGatewayUid, kGatewayUid) == 0);
    NotifyListener notify((home.dir() / "notify.sock").string());
    Child gw = start_stub(home, notify, kGatewayUid);
    REQUIRE(notify.wait_for("READY=1"));
    Snapshot before = snapshot(home);
    REQUIRE(before.pid_st.st_uid == kGatewayUid);

    // Its own user sees it live.
    RunResult own = ctl_as(kGatewayUid, "check", home);
    INFO(own.output);
    CHECK(own.exit_code == 0);
    json o = parse_json(own);
    CHECK(o["verdict"] == "live");
    CHECK(o["process"]["liveness"] == "alive");

    // Another user trusts files owned by the home's owner (who could replace
    // them anyway), gets EPERM from kill(pid, 0), and so sees it live: never stale.
    RunResult other = ctl_as(kOtherUid, "check", home);
    INFO(other.output);
    CHECK(other.exit_code == 0);
    json v = parse_json(other);
    CHECK(v["verdict"] == "live");
    CHECK(v["process"]["liveness"] == "alive-not-ours");

    RunResult clean = ctl_as(kOtherUid, "clean", home);
    INFO(clean.output);
    CHECK(clean.exit_code != 0);
    require_unchanged(home, before);

    CHECK_FALSE(gw.wait_exited_unreaped(0ms));
    CHECK(parse_json(ctl_as(kGatewayUid, "check", home))["verdict"] == "live");
}

TEST_CASE("a record naming another uid's live process that is not a gateway is stale not-gateway",
          "[foreign-uid][process][root]")
{
    if (!require_root())
        return;
    // Some other user's process: one that records every signal it gets.
    TempHome home;
    const std::string log = (home.dir() / "signals.log").string();
    home.write("signals.log", "");
    REQUIRE(::chown(log.c_str(), kOtherUid, kOtherUid) == 0);
    NotifyListener notify((home.dir() / "notify.sock").string());
    const std::string python = "/usr/bin/python3";
    SpawnOptions as_nobody;
    as_nobody.uid = kOtherUid;
    as_nobody.env = {{"NOTIFY_SOCKET", notify.path()}, {"PATH", kSystemPath}};
    Child other = Child::spawn({python, source_path("tests/scripts/signal_recorder.py"), log}, as_nobody);
    REQUIRE(notify.wait_for("READY=1")); // exec'd, handlers installed

    // A record that claims a gateway: only the live command line can expose it.
    PidRecord rec;
    rec.pid = other.pid();
    rec.kind = std::string(kGatewayKind);
    rec.argv = std::vector<std::string>{"/usr/bin/hermes", "gateway", "run"};
    rec.start_time = read_start_time(other.pid());
    REQUIRE(rec.start_time);
    rec.hermes_home = canonical_home(home.dir()).string();
    rec.boot_id = current_boot_id();
    const std::string bytes = serialize_record(rec);
    home.write("gateway.pid", bytes);

    // Checked by a third uid: kill(pid, 0) gives EPERM, /proc still tells.
    RunResult check = ctl_as(kGatewayUid, "check", home);
    INFO(check.output);
    json v = parse_json(check);
    CHECK(v["verdict"] == "stale");
    CHECK(check.exit_code == 1);
    CHECK(v["process"]["liveness"] == "alive-not-ours");
    if (v["process"]["argv"].is_null()) {
        // /proc hides other users' command lines (hidepid): without it the
        // lock is the only proof, and no one holds it.
        WARN("/proc hides other users' command lines here; not-gateway cannot be shown");
        CHECK(v["reason"] == "lock-free");
    } else {
        CHECK(v["reason"] == "not-gateway");
        CHECK(v["process"]["argv"][0] == python);
        CHECK(v["process"]["uid"] == kOtherUid);
    }
    CHECK(home.read("gateway.pid") == bytes); // check never writes

    // Cleaning removes the record and nothing else.
    RunResult clean = run({HGW_CTL_PATH, "pidfile", "clean", "--json", "--home", home.dir().string()});
    INFO(clean.output);
    CHECK(clean.exit_code == 0);
    CHECK(parse_json(clean)["action"] == "removed");
    CHECK_FALSE(home.exists("gateway.pid"));

    // Nothing signalled the process: once the marker has been handled, every
    // signal sent before it would be in the log (see signal_recorder.py).
    other.signal(SIGRTMAX);
    CHECK(notify.wait_for("SIGNAL=SIGRTMAX"));
    CHECK(home.read("signals.log") == "SIGRTMAX\n");
    CHECK_FALSE(other.wait_exited_unreaped(0ms));
}
