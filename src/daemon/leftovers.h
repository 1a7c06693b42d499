#pragma once
// What a gateway's process tree leaves behind.
//
// The daemon is the subreaper of everything it starts
// (PR_SET_CHILD_SUBREAPER): a process that outlives its parent (a worker
// that inherited gateway.lock, a daemonized child, even one that called
// setsid()) becomes the daemon's child, not init's. So "what the gateway
// left" is "our children other than the gateway", read from
// /proc/self/task/*/children without scanning /proc. And an unreaped child's
// PID cannot be reused, so signalling one is never signalling a stranger.

#include <sys/types.h>

#include <initializer_list>
#include <vector>

namespace hgw::daemon {

// Makes the calling process the subreaper of its descendants. Returns false
// (and the daemon falls back to the gateway's process group) if the kernel
// refused.
bool become_subreaper();

// Our living children other than those in `keep` (0 entries are ignored).
// Children that have exited are reaped on the way, so none piles up as a
// zombie; those in `keep` are never reaped here.
std::vector<pid_t> living_children(std::initializer_list<pid_t> keep);

} // namespace hgw::daemon
