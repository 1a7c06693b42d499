// Verdicts on records of real processes: live, killed, another uid's.

#include "core/pidfile.h"
#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

using namespace hgw;
using namespace hgw::test;

namespace {

Child start_stub(const TempHome& home, const NotifyListener& notify, std::vector<std::string> extra = {})
{
    std::vector<std::string> argv = {source_path("tests/stub/hermes"), "gateway", "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}, {"NOTIFY_SOCKET", notify.path()}};
    return Child::spawn(argv, opts);
}

} // namespace

TEST_CASE("a live stub gateway validates as live, and SIGKILLed it is stale and cleaned", "[process]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    Child gw = start_stub(home, notify);
    REQUIRE(notify.wait_for("READY=1"));

    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::Live);
    REQUIRE(v.record());
    CHECK(v.record()->pid == gw.pid());
    CHECK(v.lock.held);

    gw.signal(SIGKILL);
    REQUIRE(gw.wait());

    v = validate(home.paths());
    CHECK(v.kind == VerdictKind::Stale);
    CHECK(v.reason == StaleReason::ProcessGone);
    CHECK_FALSE(v.lock.held);

    CleanOutcome c = clean(home.paths());
    CHECK(c.action == CleanOutcome::Action::Removed);
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK(home.exists("gateway.lock")); // never unlinked

    // And the stub's own O_EXCL start now succeeds: no "race lost".
    NotifyListener notify2((home.dir() / "notify2.sock").string());
    Child again = start_stub(home, notify2);
    CHECK(notify2.wait_for("READY=1"));
    CHECK(validate(home.paths()).kind == VerdictKind::Live);
}
