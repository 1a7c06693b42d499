// Verdicts on records of real processes: live, killed, another uid's.

#include "core/pidfile.h"
#include "support/child_process.h"
#include "support/stub_gateway.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

using namespace hgw;
using namespace hgw::test;

TEST_CASE("a live stub gateway validates as live, and SIGKILLed it is stale and cleaned", "[process]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    Child gw = start_stub_gateway(home, notify);
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
    Child again = start_stub_gateway(home, notify2);
    CHECK(notify2.wait_for("READY=1"));
    CHECK(validate(home.paths()).kind == VerdictKind::Live);
}
