#!/usr/bin/env python3
"""Hermes-style "is the gateway running?" reader (test/benchmark reference).

Re-implements how Hermes decides liveness from $HERMES_HOME/gateway.lock and
$HERMES_HOME/gateway.pid.  Prints {"running": bool, "pid": int|null} and
exits 0 when running, 3 otherwise.  --cleanup reproduces Hermes' unsafe
force-unlink of both files when it concludes nothing is running.

Usage: hermes_status.py [--home DIR] [--cleanup]
"""

import argparse
import fcntl
import json
import os
import sys
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


def main():
    p = argparse.ArgumentParser(description="Hermes-style gateway liveness check.")
    p.add_argument("--home", type=Path, default=None,
                   help="Hermes home (default: $HERMES_HOME or ~/.hermes)")
    p.add_argument("--cleanup", action="store_true",
                   help="force-unlink gateway.pid and gateway.lock when not running "
                        "(Hermes' unsafe behaviour)")
    args = p.parse_args()

    home = args.home or default_home()
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
