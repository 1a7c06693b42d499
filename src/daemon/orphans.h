#pragma once
// What stands in the way of starting our gateway, and whether it is ours to
// stop. The rule: a process is signalled only when it is proven ours: the
// child a previous daemon of this home recorded (pid, start time and boot id
// match), or a gateway that holds this home's gateway.lock (seen in its
// fdinfo) and whose record names this home. Anything else is left alone and
// reported.

#include "core/home.h"
#include "process/process_handle.h"
#include "util/unique_fd.h"

#include <optional>
#include <string>

namespace hgw::daemon {

struct Obstacle {
    enum class Kind {
        None,    // the home is free
        Orphan,  // a gateway proven ours (the one a previous daemon marked): stop it
        Foreign, // a live gateway that is not proven ours: leave it, wait for it
        Holder,  // gateway.lock held by something that is not a gateway: wait for it
    };
    Kind kind = Kind::None;
    pid_t pid = 0;
    std::string why;                     // one line for people
    // Orphan, and a Foreign gateway validated as one of this home: a pidfd
    // proven to name it (a Foreign one is signalled only when a person asks).
    std::optional<ProcessHandle> orphan;
    UniqueFd watch;                      // Foreign/Holder: a pidfd to learn when it exits (never signalled)
};

// `marked_child`: the child a previous daemon recorded before it exec'd it.
Obstacle find_obstacle(const HomePaths& paths, const std::optional<ProcessIdentity>& marked_child);

// Who holds gateway.lock, as an obstacle (Holder), or nothing when it is
// free: asked after a start failed at once, which a holder that took the
// lock after our look causes.
Obstacle lock_holder(const HomePaths& paths);

// `hermes gateway run --replace` for this home (a Hermes-shaped gateway
// command line with --replace, HERMES_HOME naming this home), for when its
// takeover marker was gone before we could read who wrote it.
std::optional<pid_t> find_replacer(const HomePaths& paths);

} // namespace hgw::daemon
