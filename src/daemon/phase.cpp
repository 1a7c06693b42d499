#include "daemon/phase.h"

namespace hgw::daemon {

std::string_view to_string(Phase p)
{
    switch (p) {
    case Phase::Stopped: return "stopped";
    case Phase::Recovering: return "recovering";
    case Phase::Starting: return "starting";
    case Phase::Running: return "running";
    case Phase::Draining: return "draining";
    case Phase::Stopping: return "stopping";
    case Phase::Killing: return "killing";
    case Phase::AutoRestart: return "auto-restart";
    case Phase::Waiting: return "waiting";
    case Phase::Foreign: return "foreign";
    case Phase::Failed: return "failed";
    }
    return "unknown";
}

std::string_view to_string(State s)
{
    switch (s) {
    case State::Stopped: return "stopped";
    case State::Starting: return "starting";
    case State::Running: return "running";
    case State::Replacing: return "replacing";
    case State::Stopping: return "stopping";
    case State::AutoRestart: return "auto-restart";
    case State::Waiting: return "waiting";
    case State::Foreign: return "foreign";
    case State::Failed: return "failed";
    }
    return "unknown";
}

std::string_view to_string(Job j)
{
    switch (j) {
    case Job::None: return "none";
    case Job::Start: return "start";
    case Job::Stop: return "stop";
    case Job::Replace: return "replace";
    case Job::Shutdown: return "shutdown";
    }
    return "unknown";
}

State state_of(Phase phase, Job job)
{
    const bool replacing = job == Job::Replace;
    switch (phase) {
    case Phase::Stopped: return State::Stopped;
    case Phase::Running: return State::Running;
    case Phase::Starting: return replacing ? State::Replacing : State::Starting;
    case Phase::Recovering:
    case Phase::Draining:
    case Phase::Stopping:
    case Phase::Killing: return replacing ? State::Replacing : State::Stopping;
    case Phase::AutoRestart: return State::AutoRestart;
    case Phase::Waiting: return State::Waiting;
    case Phase::Foreign: return State::Foreign;
    case Phase::Failed: return State::Failed;
    }
    return State::Failed;
}

} // namespace hgw::daemon
