#!/usr/bin/env python3
"""Hermes-style "is the gateway running?" reader (test/benchmark reference).

Re-implements how Hermes decides liveness from $HERMES_HOME/gateway.lock and
$HERMES_HOME/gateway.pid.  Prints {"running": bool, "pid": int|null} and
exits 0 when running, 3 otherwise.  --cleanup reproduces Hermes' unsafe
force-unlink of both files when it concludes nothing is running.

With --faithful (or HERMES_STUB_FAITHFUL=1 in the environment) it is instead
the model of Hermes' own unscoped reader (gateway/status.py get_running_pid),
cleanup included; see tests/stub/README.md.  --home DIR then stands for
HERMES_HOME=DIR.  It prints {"running", "pid", "unlinked": [names]}, exit 0/3
as above.  --poll MS repeats it every MS milliseconds until SIGTERM/SIGINT
(or --probes N probes) and prints one summary line at the end:
  {"probes": N, "running": N, "pids": [...], "unlinked": {"gateway.pid": N,
   "gateway.lock": N}, "held_lock_unlinked": N}

Usage: hermes_status.py [--home DIR] [--cleanup]
       hermes_status.py --faithful [--home DIR] [--poll MS [--probes N] [--events FILE]]
"""

import argparse
import fcntl
import json
import os
import select
import signal
import sys
import time
from pathlib import Path

GATEWAY_KIND = "hermes-gateway"


def default_home():
    val = os.environ.get("HERMES_HOME", "").strip()
    return Path(val) if val else Path.home() / ".hermes"


def lock_is_held(lock_path):
    """True when another process holds flock(LOCK_EX) on the lock file."""
    if not lock_path.exists():
        return False
    try:
        handle = open(lock_path, "a+", encoding="utf-8")
    except OSError:
        return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False
    finally:
        handle.close()


def read_record(pid_path):
    try:
        raw = pid_path.read_text(encoding="utf-8-sig").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not raw:
        return None
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        try:
            payload = int(raw)  # legacy bare-PID file
        except ValueError:
            return None
    if isinstance(payload, int) and not isinstance(payload, bool):
        return {"pid": payload}
    return payload if isinstance(payload, dict) else None


def stat_fields(pid):
    """Fields 3.. of /proc/<pid>/stat (text after the last ')'), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return text[text.rindex(")") + 1:].split()
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def pid_exists(pid):
    fields = stat_fields(pid)
    if fields and fields[0] == "Z":  # zombie: still answers kill(0) but is dead
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def start_time(pid):
    fields = stat_fields(pid)
    try:
        return int(fields[22 - 3])
    except (TypeError, IndexError, ValueError):
        return None


def gateway_subcommand(tokens):
    """Gateway subcommand named by a command line (token list), or None."""
    basenames = [t.rsplit("/", 1)[-1] for t in tokens]
    if any(t.endswith("/gateway/run.py") for t in tokens) or "hermes-gateway" in basenames:
        return "run"
    if "hermes" not in basenames:
        return None
    # Drop --profile X / -p X (and --profile=X / -p=X) wherever they appear.
    rest, skip = [], False
    for tok in tokens[basenames.index("hermes") + 1:]:
        if skip:
            skip = False
        elif tok in ("--profile", "-p"):
            skip = True
        elif not tok.startswith(("--profile=", "-p=")):
            rest.append(tok)
    if "gateway" not in rest:
        return None
    i = rest.index("gateway")
    return rest[i + 1] if i + 1 < len(rest) else "run"  # bare `hermes gateway` = run


def looks_like_gateway(tokens):
    return gateway_subcommand(tokens) in ("run", "restart")


def live_cmdline(pid):
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    text = raw.replace(b"\0", b" ").decode("utf-8", errors="ignore").strip()
    return text.split() or None


def same_home(recorded, home):
    if not recorded:
        return True
    if not isinstance(recorded, str):
        return False
    return Path(recorded).expanduser().resolve() == home.expanduser().resolve()


def qualifying_pid(record, home):
    """The record's PID if it names a live gateway of this home, else None."""
    try:
        pid = int(record["pid"])
    except (KeyError, TypeError, ValueError):
        return None
    if not pid_exists(pid):
        return None
    recorded_start, current_start = record.get("start_time"), start_time(pid)
    if recorded_start is not None and current_start is not None and recorded_start != current_start:
        return None  # PID was recycled
    if not same_home(record.get("hermes_home"), home):
        return None
    tokens = live_cmdline(pid)
    if tokens is None:  # unreadable: trust the record's own argv
        argv = record.get("argv")
        if record.get("kind") != GATEWAY_KIND or not isinstance(argv, list) or not argv:
            return None
        tokens = " ".join(str(a) for a in argv).split()
    return pid if looks_like_gateway(tokens) else None


# ---------------------------------------------------------------- Hermes-faithful reader
#
# Written from the behaviour of Hermes' gateway/status.py (upstream main), as
# described in tests/stub/README.md: the unscoped get_running_pid() that
# `hermes gateway status`, `hermes status`, the updater, the dashboard and
# every `hermes gateway run` call.  Unlike main() above it deletes what it
# cannot vouch for, without holding the lock, so it can split a held lock.

FAITHFUL_ENV = "HERMES_STUB_FAITHFUL"
RUNTIME_STATUS_FILE = "gateway_state.json"
# gateway_state.json values for which Hermes does not look at the pid at all.
NOT_LIVE_STATES = (None, "stopped", "startup_failed")


def faithful_requested(flag=False):
    """The one switch of the model: a --faithful flag or HERMES_STUB_FAITHFUL=1."""
    return bool(flag) or os.environ.get(FAITHFUL_ENV, "").strip() == "1"


def read_json_object(path):
    """A JSON object from `path`, or None (absent, empty, unreadable, not an object)."""
    try:
        raw = path.read_text(encoding="utf-8-sig").strip()
        payload = json.loads(raw) if raw else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


class Reader:
    """One home's gateway.pid / gateway.lock / gateway_state.json as Hermes reads them.

    Counts the files it unlinked (only unlinks that removed something), and
    separately the times it unlinked gateway.lock right after finding it held:
    each of those is a split lock.  `events`, an open text file, gets one JSON
    line per unlink with a CLOCK_MONOTONIC time, so a test can line deletions
    up with what other processes saw."""

    def __init__(self, home, events=None):
        self.home = Path(home)
        self.pid_path = self.home / "gateway.pid"
        self.lock_path = self.home / "gateway.lock"
        self.state_path = self.home / RUNTIME_STATUS_FILE
        self.events = events
        self.unlinked = {"gateway.pid": 0, "gateway.lock": 0}
        self.held_lock_unlinked = 0
        self.last_unlinked = []

    def lock_is_active(self):
        """Non-blocking flock probe, released at once.  A lock file that cannot
        be opened for permissions is taken for a stale root-owned one: unlinked,
        and the lock reported free (Hermes does the same)."""
        if not self.lock_path.exists():
            return False
        try:
            handle = open(self.lock_path, "a+", encoding="utf-8")
        except PermissionError:
            self.unlink(self.lock_path, held=False)
            return False
        except OSError:
            return False
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return False

    def runtime_status_pid(self):
        """The fallback on gateway_state.json: its pid, if the state claims life
        and the pid passes the same checks as a record."""
        state = read_json_object(self.state_path)
        if state is None or state.get("gateway_state") in NOT_LIVE_STATES:
            return None
        return qualifying_pid(state, self.home)

    def running_pid(self):
        """Hermes' answer: a gateway pid or None, with its cleanup on the way."""
        self.last_unlinked = []
        if self.lock_is_active():
            for path in (self.pid_path, self.lock_path):
                record = read_record(path)
                pid = qualifying_pid(record, self.home) if record is not None else None
                if pid is not None:
                    return pid
            self.cleanup(held=True)
            return self.runtime_status_pid()
        pid = self.runtime_status_pid()
        if pid is None:
            self.cleanup(held=False)
        return pid

    def cleanup(self, held):
        """Both files go, lock or no lock: Hermes takes no lock to do this."""
        self.unlink(self.pid_path, held=False)
        self.unlink(self.lock_path, held=held)

    def unlink(self, path, held):
        try:
            path.unlink()
        except OSError:
            return
        self.unlinked[path.name] += 1
        self.last_unlinked.append(path.name)
        if held:
            self.held_lock_unlinked += 1
        if self.events is not None:
            self.events.write(json.dumps({"t": time.clock_gettime(time.CLOCK_MONOTONIC),
                                          "unlinked": path.name, "held": held}) + "\n")
            self.events.flush()


def signal_wakeup_pipe(signums):
    """Read end of a pipe that gets a byte per signal in `signums`, so a loop
    can sleep in select() and still stop at once."""
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
    for signum in signums:
        signal.signal(signum, lambda _signum, _frame: None)
    return rfd


def poll(reader, interval_ms, max_probes=None):
    """Probe every `interval_ms` until SIGTERM/SIGINT (or `max_probes`); the
    summary dict.  Probes are scheduled on a fixed grid; a late probe is not
    followed by a burst of catch-up probes."""
    rfd = signal_wakeup_pipe((signal.SIGTERM, signal.SIGINT))
    interval = max(0.0, interval_ms) / 1000.0
    probes = running = 0
    pids = set()
    next_at = time.monotonic()
    while max_probes is None or probes < max_probes:
        pid = reader.running_pid()
        probes += 1
        if pid is not None:
            running += 1
            pids.add(pid)
        next_at = max(next_at + interval, time.monotonic())
        readable, _, _ = select.select([rfd], [], [], max(0.0, next_at - time.monotonic()))
        if readable:
            break
    return {"probes": probes, "running": running, "pids": sorted(pids),
            "unlinked": dict(reader.unlinked), "held_lock_unlinked": reader.held_lock_unlinked}


def status_main(home, poll_ms=None, max_probes=None, events_path=None):
    """`hermes gateway status` of the model, once or as a poller; the exit code."""
    events = open(events_path, "a", encoding="utf-8") if events_path else None
    try:
        reader = Reader(home, events)
        if poll_ms is None and max_probes is None:
            pid = reader.running_pid()
            print(json.dumps({"running": pid is not None, "pid": pid,
                              "unlinked": reader.last_unlinked}), flush=True)
            return 0 if pid is not None else 3
        summary = poll(reader, poll_ms if poll_ms is not None else 0.0, max_probes)
        print(json.dumps(summary), flush=True)
        return 0
    finally:
        if events is not None:
            events.close()


def add_faithful_status_options(parser):
    """Options of the faithful reader, shared with `hermes gateway status`."""
    parser.add_argument("--poll", "--poll-interval", dest="poll", type=float, metavar="MS",
                        help="faithful reader: probe every MS milliseconds (fractions allowed) "
                             "until SIGTERM/SIGINT, then print a summary line")
    parser.add_argument("--probes", type=int, metavar="N",
                        help="faithful reader: stop polling after N probes")
    parser.add_argument("--events", metavar="FILE",
                        help="faithful reader: append a JSON line per unlink to FILE")


def main(argv=None):
    p = argparse.ArgumentParser(description="Hermes-style gateway liveness check.")
    p.add_argument("--home", type=Path, default=None,
                   help="Hermes home (default: $HERMES_HOME or ~/.hermes)")
    p.add_argument("--cleanup", action="store_true",
                   help="force-unlink gateway.pid and gateway.lock when not running "
                        "(Hermes' unsafe behaviour)")
    p.add_argument("--faithful", action="store_true",
                   help="be Hermes' own reader, cleanup included (also HERMES_STUB_FAITHFUL=1)")
    add_faithful_status_options(p)
    args = p.parse_args(argv)

    home = args.home or default_home()
    if faithful_requested(args.faithful):
        return status_main(home, args.poll, args.probes, args.events)
    if args.poll is not None or args.probes is not None or args.events:
        p.error("--poll, --probes and --events need --faithful (or HERMES_STUB_FAITHFUL=1)")
    pid_path, lock_path = home / "gateway.pid", home / "gateway.lock"

    pid = None
    if lock_is_held(lock_path):
        record = read_record(pid_path)
        if record is not None:
            pid = qualifying_pid(record, home)

    if pid is None and args.cleanup:
        for path in (pid_path, lock_path):
            try:
                path.unlink()
            except OSError:
                pass

    print(json.dumps({"running": pid is not None, "pid": pid}))
    return 0 if pid is not None else 3


if __name__ == "__main__":
    sys.exit(main())
