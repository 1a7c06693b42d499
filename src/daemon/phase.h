#pragma once
// The supervisor's vocabulary: the phases of its state machine, the coarser
// state people see, and the operation under way. systemd has the same split
// (SubState, ActiveState, job).

#include <string_view>

namespace hgw::daemon {

// Where the machine is. Each phase has at most one timer.
enum class Phase {
    Stopped,     // no gateway, none wanted
    Recovering,  // stopping an orphan a previous daemon left (SIGTERM, then SIGKILL)
    Starting,    // spawned, not yet ready            timer: start timeout
    Running,     // ready                             timer: the gateway's watchdog
    Draining,    // SIGUSR1 sent (replace)            timer: drain timeout
    Stopping,    // SIGTERM sent                      timer: stop timeout
    Killing,     // SIGKILL sent                      timer: kill timeout
    AutoRestart, // waiting to start again            timer: back-off
    Waiting,     // blocked by the environment        timer: retry back-off (and inotify)
    Foreign,     // another, validated gateway holds the home   pidfd of it, and a re-check timer
    Failed,      // configuration error or crash loop: needs a person
};

// What people see (the State property, StateChanged, STATUS=).
enum class State { Stopped, Starting, Running, Replacing, Stopping, AutoRestart, Waiting, Foreign, Failed };

// The operation under way, if any.
enum class Job { None, Start, Stop, Replace, Shutdown };

std::string_view to_string(Phase p);
std::string_view to_string(State s);
std::string_view to_string(Job j);

// The state a phase shows while `job` runs: a replace shows as `replacing`
// from its drain until its new gateway is ready.
State state_of(Phase phase, Job job);

} // namespace hgw::daemon
