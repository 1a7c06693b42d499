#!/usr/bin/env python3
"""Runs inside a test's network namespace (support/netns_host.h) and waits
for the test process, its parent, to die.  If it does (a crash: a test that
ends normally kills this reaper first), every process left in the namespace
is killed, so that the namespace and its veth pairs go too, as a host whose
power was cut.  That covers what the test did not spawn itself and which
therefore cannot die with it: a daemon's gateway, which outlives its daemon
by design.

A process is killed only if it is in this very namespace (the same
/proc/<pid>/ns/net), which only the test puts processes into; it is pinned
by a pidfd before the check and signalled through it, so a recycled PID is
never hit.

Usage: netns_reaper.py TEST_PID      (exits 0 once the namespace is empty)
"""

import os
import select
import signal
import sys
import time

ROUND_PAUSE_S = 0.05  # between rounds: let the killed exit before looking again
GIVE_UP_S = 30.0


def namespace_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None  # gone, or a zombie (its namespaces are released)


def kill_round(ours, me):
    """SIGKILLs every other process in namespace `ours`; how many it found."""
    found = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        if namespace_of(pid) != ours:
            continue
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if namespace_of(pid) == ours:  # still that process: pinned, then checked
                found += 1
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(pidfd)
    return found


def wait_for_test(test_pid):
    """Returns once the test process has exited (at once if it already has)."""
    try:
        watched = os.pidfd_open(test_pid)
    except OSError:
        return  # gone already
    try:
        # The PID is the test's only while the test is our parent: if it is
        # not, the test died before we looked and the PID is someone else's.
        if os.getppid() == test_pid:
            select.select([watched], [], [])  # readable once it has exited
    finally:
        os.close(watched)


def main(argv):
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: netns_reaper.py TEST_PID", file=sys.stderr)
        return 2
    wait_for_test(int(argv[0]))
    ours, me = namespace_of("self"), os.getpid()
    deadline = time.monotonic() + GIVE_UP_S
    while kill_round(ours, me) and time.monotonic() < deadline:
        time.sleep(ROUND_PAUSE_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
