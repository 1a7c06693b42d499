#include "daemon/state_table.h"

#include <algorithm>
#include <array>

namespace hgw::daemon {

std::string_view to_string(Event e)
{
    switch (e) {
    case Event::Stop: return "stop";
    case Event::Replace: return "replace";
    case Event::Shutdown: return "shutdown";
    case Event::Spawned: return "spawned";
    case Event::Blocked: return "blocked";
    case Event::FoundOrphan: return "found-orphan";
    case Event::FoundForeign: return "found-foreign";
    case Event::Unstartable: return "unstartable";
    case Event::Ready: return "ready";
    case Event::Exit: return "exit";
    case Event::Timeout: return "timeout";
    case Event::CrashLoop: return "crash-loop";
    case Event::TakenOver: return "taken-over";
    }
    return "unknown";
}

namespace {

using P = Phase;
using E = Event;

// Where a start attempt can begin: no gateway of ours runs there (the kill
// phases: the old gateway of a replace, or the orphan, has just exited).
#define FROM_START_ATTEMPT(EVENT, TO)                                                                            \
    {P::Stopped, EVENT, TO}, {P::Failed, EVENT, TO}, {P::AutoRestart, EVENT, TO}, {P::Waiting, EVENT, TO},       \
        {P::Foreign, EVENT, TO}, {P::Recovering, EVENT, TO}, {P::Draining, EVENT, TO}, {P::Stopping, EVENT, TO}, \
        {P::Killing, EVENT, TO}

constexpr Step kSteps[] = {
    // A start attempt ends in one of these.
    FROM_START_ATTEMPT(E::Spawned, P::Starting),
    FROM_START_ATTEMPT(E::Blocked, P::Waiting),
    FROM_START_ATTEMPT(E::FoundOrphan, P::Recovering),
    FROM_START_ATTEMPT(E::FoundForeign, P::Foreign),
    FROM_START_ATTEMPT(E::Unstartable, P::Failed),
    // Our gateway died in a full or read-only home: wait for it to change.
    {P::Starting, E::Blocked, P::Waiting},
    {P::Running, E::Blocked, P::Waiting},
    // Signalling an orphan was refused (EPERM): not ours after all.
    {P::Recovering, E::FoundForeign, P::Foreign},
    {P::Killing, E::FoundForeign, P::Foreign},

    {P::Starting, E::Ready, P::Running},
    {P::Starting, E::Timeout, P::Stopping},
    {P::Running, E::Replace, P::Draining},
    {P::Draining, E::Timeout, P::Stopping},
    {P::Stopping, E::Timeout, P::Killing},
    {P::Recovering, E::Timeout, P::Killing},
    {P::Killing, E::Timeout, P::Killing},

    {P::Starting, E::Stop, P::Stopping},
    {P::Running, E::Stop, P::Stopping},
    {P::Draining, E::Stop, P::Stopping},
    {P::Stopped, E::Stop, P::Stopped},
    {P::Failed, E::Stop, P::Stopped},
    {P::AutoRestart, E::Stop, P::Stopped},
    {P::Waiting, E::Stop, P::Stopped},
    {P::Foreign, E::Stop, P::Stopped},
    // A person asks to stop or replace a gateway of this home we did not start.
    {P::Foreign, E::Stop, P::Stopping},
    {P::Foreign, E::Replace, P::Draining},

    {P::Starting, E::Shutdown, P::Stopping},
    {P::Running, E::Shutdown, P::Stopping},
    {P::Draining, E::Shutdown, P::Stopping},
    {P::Stopped, E::Shutdown, P::Stopped},
    {P::Failed, E::Shutdown, P::Stopped},
    {P::AutoRestart, E::Shutdown, P::Stopped},
    {P::Waiting, E::Shutdown, P::Stopped},
    {P::Foreign, E::Shutdown, P::Stopped},

    // Stopped on request.
    {P::Stopping, E::Exit, P::Stopped},
    {P::Killing, E::Exit, P::Stopped},
    {P::Recovering, E::Exit, P::Stopped},
    // An exit the restart policy judges (or the old gateway of a replace,
    // whose process group needs a moment).
    {P::Starting, E::Exit, P::AutoRestart},
    {P::Running, E::Exit, P::AutoRestart},
    {P::Draining, E::Exit, P::AutoRestart},
    {P::Stopping, E::Exit, P::AutoRestart},
    {P::Killing, E::Exit, P::AutoRestart},
    {P::Recovering, E::Exit, P::AutoRestart},
    {P::Starting, E::CrashLoop, P::Failed},
    {P::Running, E::CrashLoop, P::Failed},
    {P::Draining, E::CrashLoop, P::Failed},
    {P::Stopping, E::CrashLoop, P::Failed},
    {P::Killing, E::CrashLoop, P::Failed},
    // `hermes gateway run --replace` took over: watch its gateway, no restart.
    {P::Starting, E::TakenOver, P::Foreign},
    {P::Running, E::TakenOver, P::Foreign},
};

#undef FROM_START_ATTEMPT

} // namespace

std::span<const Step> state_table() { return kSteps; }

bool allowed(Phase from, Event event, Phase to)
{
    return std::any_of(std::begin(kSteps), std::end(kSteps),
                       [&](const Step& s) { return s.from == from && s.event == event && s.to == to; });
}

} // namespace hgw::daemon
