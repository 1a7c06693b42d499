#pragma once
// The supervisor's state machine as data: every (phase, event) -> phase
// step it may take. The supervisor checks each step it takes against this
// table, and a test checks that docs/state-machine.md lists exactly these.

#include "daemon/phase.h"

#include <span>
#include <string_view>

namespace hgw::daemon {

enum class Event {
    Stop,         // a Stop request
    Replace,      // Replace, Restart of a running gateway, SIGHUP, SIGUSR1, the gateway's watchdog lapsing
    Shutdown,     // the daemon is going away (SIGTERM, SIGINT)
    Spawned,      // a start attempt started our gateway
    Blocked,      // a start attempt found the environment in the way (home, disk, fds, a lock holder)
    FoundOrphan,  // a start attempt found a gateway proven ours running without us
    FoundForeign, // a start attempt found a gateway not proven ours (or one we may not signal)
    Unstartable,  // a start attempt found the command cannot be run (configuration error)
    Ready,        // READY=1, or the record and the lock in place, or the grace time passed
    Exit,         // the gateway (or the orphan) exited
    Timeout,      // the phase's timer fired
    CrashLoop,    // the restart policy gives up: exit 78, or too many crashes
    TakenOver,    // our gateway exited, stopped by `hermes gateway run --replace` (its takeover marker named it)
};

std::string_view to_string(Event e);

struct Step {
    Phase from;
    Event event;
    Phase to;
};

std::span<const Step> state_table();

// Is (from, event) -> to in the table?
bool allowed(Phase from, Event event, Phase to);

} // namespace hgw::daemon
