#!/usr/bin/env python3
"""PID reuse, for real: the scenario of tests/integration/pid_reuse_test.cpp.

Runs as PID 1 of a fresh PID namespace (the test starts it with
`unshare --pid --fork --mount-proc --kill-child`), where nothing else forks,
so /proc/sys/kernel/ns_last_pid decides the next PID exactly:

 1. start the stub gateway for --home, wait for READY=1, read its record;
 2. SIGKILL and reap it: its gateway.pid stays behind, naming PID P;
 3. write P-1 to ns_last_pid and start a bystander (signal_recorder.py),
    which therefore gets PID P;
 4. ask open_verified (through --probe, the test binary's hidden probe case)
    about the stub's recorded identity and about the bystander's;
 5. run `pidfile check` and `pidfile clean` on the home;
 6. prove the bystander was never signalled (the SIGRTMAX round trip that
    signal_recorder.py describes) and is still the same process.

It judges nothing itself: it writes every observation as one JSON object to
--out and the test asserts on it. Exit 0 when the scenario ran to the end,
2 when it could not (the object then has "error"), 3 when the kernel lacks
ns_last_pid (the object then has "unsupported").
"""

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

TIMEOUT = 30.0  # seconds; generous, the scenario asserts outcomes not speed
NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"
MARKER = signal.SIGRTMAX  # see signal_recorder.py
RECORDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "signal_recorder.py")


class ScenarioError(Exception):
    pass


class Unsupported(Exception):
    pass


# ------------------------------------------------------------ helpers

def wait_for_message(sock, wanted, timeout, seen=None):
    """Waits for a datagram equal to `wanted` on a notify socket; collects
    every message into `seen`. False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            continue
        msg = sock.recv(4096).decode("utf-8", "replace")
        if seen is not None:
            seen.append(msg)
        if wanted in msg.split("\n"):
            return True


def notify_socket(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    return sock


def start_time(pid):
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        text = f.read()
    return int(text[text.rindex(")") + 1:].split()[22 - 3])


def boot_id():
    with open("/proc/sys/kernel/random/boot_id", encoding="utf-8") as f:
        return f.read().strip()


def run_ctl(ctl, action, home):
    proc = subprocess.run([ctl, "pidfile", action, "--json", "--home", home],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    try:
        parsed = json.loads(out)
    except ValueError:
        parsed = None
    return {"exit": proc.returncode, "json": parsed, "stdout": out,
            "stderr": proc.stderr.decode("utf-8", "replace")}


def probe_open_verified(probe, pid, start, boot):
    """Runs the test binary's hidden probe case inside this namespace."""
    env = dict(os.environ, HGW_PROBE_PID=str(pid), HGW_PROBE_START_TIME=str(start),
               HGW_PROBE_BOOT_ID=boot)
    proc = subprocess.run([probe, "[pidns-probe]"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    lines = [l for l in out.splitlines() if l.startswith("OPEN_VERIFIED ")]
    return {"exit": proc.returncode, "line": lines[-1] if lines else None, "output": out}


# ------------------------------------------------------------ scenario steps

def start_and_kill_stub(args, result):
    """Steps 1 and 2. Returns the stub's PID."""
    sock_path = os.path.join(args.home, "stub-notify.sock")
    sock = notify_socket(sock_path)
    env = dict(os.environ, HERMES_HOME=args.home, NOTIFY_SOCKET=sock_path)
    stub = subprocess.Popen([args.stub, "gateway", "run"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        if not wait_for_message(sock, "READY=1", TIMEOUT):
            raise ScenarioError("the stub gateway never sent READY=1")
    finally:
        sock.close()
        os.unlink(sock_path)
    with open(os.path.join(args.home, "gateway.pid"), encoding="utf-8") as f:
        result["stub_record"] = json.loads(f.read())
    result["stub_pid"] = stub.pid
    result["stub_start_time"] = start_time(stub.pid)
    stub.kill()
    result["stub_returncode"] = stub.wait(TIMEOUT)  # reaped: P is free again
    return stub.pid


def start_bystander_at(pid, log_path, sock_path):
    """Step 3: makes `pid` the next PID handed out, then starts the bystander."""
    if not os.path.exists(NS_LAST_PID):
        raise Unsupported(NS_LAST_PID + " is missing (kernel without CONFIG_CHECKPOINT_RESTORE)")
    with open(NS_LAST_PID, "w", encoding="ascii") as f:
        f.write(str(pid - 1))
    # Nothing may fork between the write above and this Popen.
    return subprocess.Popen([sys.executable, RECORDER, log_path],
                            env=dict(os.environ, NOTIFY_SOCKET=sock_path),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def marker_round_trip(by, sock, result):
    """Step 6: send the marker and wait until the bystander has logged it."""
    os.kill(by.pid, MARKER)
    seen = []
    result["marker_seen"] = wait_for_message(sock, "SIGNAL=" + MARKER.name, TIMEOUT, seen)
    result["bystander_messages"] = seen


def scenario(args, result):
    result["boot_id"] = boot_id()
    pid = start_and_kill_stub(args, result)

    log_path = os.path.join(args.home, "bystander-signals.log")
    open(log_path, "w", encoding="utf-8").close()
    sock_path = os.path.join(args.home, "bystander-notify.sock")
    sock = notify_socket(sock_path)
    by = start_bystander_at(pid, log_path, sock_path)
    try:
        result["bystander_pid"] = by.pid
        if not wait_for_message(sock, "READY=1", TIMEOUT):
            raise ScenarioError("the bystander never became ready")
        result["bystander_start_time"] = start_time(by.pid)

        recorded_start = result["stub_record"].get("start_time")
        result["probe_recorded_identity"] = probe_open_verified(
            args.probe, pid, recorded_start, result["boot_id"])
        result["probe_bystander_identity"] = probe_open_verified(
            args.probe, by.pid, result["bystander_start_time"], result["boot_id"])

        result["check"] = run_ctl(args.ctl, "check", args.home)
        result["clean"] = run_ctl(args.ctl, "clean", args.home)
        result["pid_file_after_clean"] = os.path.exists(os.path.join(args.home, "gateway.pid"))
        result["lock_file_after_clean"] = os.path.exists(os.path.join(args.home, "gateway.lock"))

        marker_round_trip(by, sock, result)
        alive = by.poll() is None
        result["bystander_alive"] = alive
        result["bystander_same_process"] = alive and start_time(by.pid) == result["bystander_start_time"]
        with open(log_path, encoding="utf-8") as f:
            result["signal_log"] = f.read()
    finally:
        by.kill()
        by.wait(TIMEOUT)
        sock.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", required=True)
    p.add_argument("--ctl", required=True, help="hermes-gatewayctl binary")
    p.add_argument("--stub", required=True, help="tests/stub/hermes")
    p.add_argument("--probe", required=True, help="integration test binary (hidden probe case)")
    p.add_argument("--out", required=True, help="where to write the JSON observations")
    args = p.parse_args()

    result = {"namespace_pid": os.getpid()}
    code = 0
    try:
        scenario(args, result)
    except Unsupported as e:
        result["unsupported"] = str(e)
        code = 3
    except (ScenarioError, OSError, ValueError, subprocess.SubprocessError) as e:
        result["error"] = f"{type(e).__name__}: {e}"
        code = 2
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    return code


if __name__ == "__main__":
    sys.exit(main())
