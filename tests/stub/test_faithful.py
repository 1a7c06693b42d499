"""Tests of the Hermes-faithful model in tests/stub (see README.md there).

Real processes, real flock, real files in a temporary home.  Every wait is on
a condition with a generous deadline; nothing sleeps to let a race settle.

Run: cd tests/stub && python3 -m unittest -v test_faithful
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

HERE = Path(__file__).resolve().parent
HERMES = HERE / "hermes"
STATUS = HERE / "hermes_status.py"
DEADLINE_S = 30.0
# Variables that would change what the model does; a test sets them itself.
MODEL_VARIABLES = ("INVOCATION_ID", "XPC_SERVICE_NAME", "HERMES_S6_SUPERVISED_CHILD",
                   "HERMES_GATEWAY_EXTERNAL_SUPERVISOR", "HERMES_STUB_FAITHFUL",
                   "HERMES_GATEWAY_MAX_STARTS", "HERMES_GATEWAY_START_WINDOW_S",
                   "HERMES_STUB_STORM_SCALE", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                   "HERMES_STUB_BOT_API", "HERMES_STUB_BOT_TOKEN")


def load_stub():
    """The `hermes` script as a module, for its pure functions."""
    loader = SourceFileLoader("hermes_stub", str(HERMES))
    module = module_from_spec(spec_from_loader("hermes_stub", loader))
    loader.exec_module(module)
    return module


def wait_for(condition, what, timeout=DEADLINE_S):
    """The first true value of condition(), polled until the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.01)


def dead_pid():
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          check=True, capture_output=True, text=True)
    return int(proc.stdout)


def log_time(line):
    """The time stamp at the start of a stub log line."""
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


class HomeTestCase(unittest.TestCase):
    """A throw-away Hermes home, and the gateways a test starts in it."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="hgw-faithful-")
        self.home = Path(self.tmp.name)
        self.procs = []
        self.env = {k: v for k, v in os.environ.items() if k not in MODEL_VARIABLES}
        self.env["HERMES_HOME"] = str(self.home)

    def tearDown(self):
        for proc in self.procs:  # only what this test started, by pid
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=DEADLINE_S)
        self.tmp.cleanup()

    def path(self, name):
        return self.home / name

    def start_gateway(self, name, *options, env=None):
        """`hermes gateway run --faithful` logging to <home>/<name>.log."""
        proc = subprocess.Popen(
            [sys.executable, str(HERMES), "gateway", "run", "--faithful",
             "--log", str(self.path(f"{name}.log")), *options],
            env=dict(self.env, **(env or {})),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def run_gateway(self, name, *options, env=None):
        """A gateway expected to exit by itself: its exit code."""
        return self.start_gateway(name, *options, env=env).wait(timeout=DEADLINE_S)

    def log(self, name):
        try:
            return self.path(f"{name}.log").read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def log_line(self, name, text):
        """The first line of the log that contains `text`, or None."""
        return next((line for line in self.log(name).splitlines() if text in line), None)

    def wait_running(self, name, proc):
        """Until the gateway holds its files and handles its signals."""
        wait_for(lambda: self.log_line(name, f"Gateway running (pid {proc.pid})"),
                 f"gateway {name} to run")

    def record_pid(self, name):
        try:
            return json.loads(self.path(name).read_text(encoding="utf-8"))["pid"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def read_status(self):
        """One probe of the faithful reader: (exit code, its JSON)."""
        proc = subprocess.run([sys.executable, str(STATUS), "--faithful", "--home", str(self.home)],
                              env=self.env, capture_output=True, text=True, timeout=DEADLINE_S)
        return proc.returncode, json.loads(proc.stdout)

    def start_poller(self, interval_ms):
        proc = subprocess.Popen([sys.executable, str(STATUS), "--faithful", "--home",
                                 str(self.home), "--poll", str(interval_ms)],
                                env=self.env, stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def stop_poller(self, proc):
        """SIGTERM the poller: its summary."""
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=DEADLINE_S)
        self.assertEqual(proc.returncode, 0)
        return json.loads(out)

    def starts_logged(self):
        try:
            return len(self.path("gateway-starts.log").read_text().splitlines())
        except FileNotFoundError:
            return 0


class ReaderTest(HomeTestCase):
    """(a) the reader and its cleanup."""

    def test_a_free_lock_deletes_both_files(self):
        # The record names a live process (this one): with the lock free it does not matter.
        self.path("gateway.pid").write_text(json.dumps({"pid": os.getpid()}))
        self.path("gateway.lock").write_text(json.dumps({"pid": dead_pid()}))
        rc, out = self.read_status()
        self.assertEqual(rc, 3)
        self.assertEqual(out, {"running": False, "pid": None,
                               "unlinked": ["gateway.pid", "gateway.lock"]})
        self.assertFalse(self.path("gateway.pid").exists())
        self.assertFalse(self.path("gateway.lock").exists())

    def test_unparseable_pid_file_is_deleted(self):
        self.path("gateway.pid").write_text("not a pid")
        rc, out = self.read_status()
        self.assertEqual((rc, out["unlinked"]), (3, ["gateway.pid"]))

    def test_live_gateway_is_reported_and_left_alone(self):
        gw = self.start_gateway("gw")
        self.wait_running("gw", gw)
        rc, out = self.read_status()
        self.assertEqual((rc, out), (0, {"running": True, "pid": gw.pid, "unlinked": []}))
        poller = subprocess.run([sys.executable, str(STATUS), "--faithful", "--home",
                                 str(self.home), "--poll", "0.5", "--probes", "200"],
                                env=self.env, capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertEqual(json.loads(poller.stdout), {
            "probes": 200, "running": 200, "pids": [gw.pid],
            "unlinked": {"gateway.pid": 0, "gateway.lock": 0}, "held_lock_unlinked": 0})

    def test_gateway_status_command_is_the_same_reader(self):
        self.path("gateway.pid").write_text(json.dumps({"pid": dead_pid()}))
        proc = subprocess.run([sys.executable, str(HERMES), "gateway", "status"], env=self.env,
                              capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(json.loads(proc.stdout)["unlinked"], ["gateway.pid"])

    def test_held_lock_record_counts_without_gateway_pid(self):
        # As between the record written into the lock and gateway.pid created.
        gw = self.start_gateway("gw")
        self.wait_running("gw", gw)
        self.path("gateway.pid").unlink()
        self.assertEqual(self.read_status(), (0, {"running": True, "pid": gw.pid, "unlinked": []}))
        self.assertTrue(self.path("gateway.lock").exists())

    def test_held_lock_of_a_process_not_hermes_shaped_is_deleted(self):
        with open(self.path("gateway.lock"), "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            lock.write(json.dumps({"pid": os.getpid()}))  # alive, but python -m unittest
            lock.flush()
            rc, out = self.read_status()
        self.assertEqual((rc, out["unlinked"]), (3, ["gateway.lock"]))


class AcquireWindowTest(HomeTestCase):
    """(b) a reader inside the acquire window deletes a held lock: the split."""

    def lock_fd_targets(self, pid):
        fd_dir = Path(f"/proc/{pid}/fd")
        targets = []
        for fd in fd_dir.iterdir():
            try:
                targets.append(os.readlink(fd))
            except OSError:
                pass
        return [t for t in targets if t.startswith(str(self.path("gateway.lock")))]

    def test_b_reader_in_the_window_splits_the_lock(self):
        gw = self.start_gateway("gw", "--acquire-window-ms", "3000")
        wait_for(lambda: self.log_line("gw", "acquire window"), "the acquire window")
        self.assertEqual(self.path("gateway.lock").stat().st_size, 0)
        rc, out = self.read_status()
        self.assertEqual((rc, out["unlinked"]), (3, ["gateway.lock"]))
        self.assertFalse(self.path("gateway.lock").exists())
        self.assertEqual(self.lock_fd_targets(gw.pid),
                         [str(self.path("gateway.lock")) + " (deleted)"])

        # The gateway carries on, believing it holds the lock...
        self.wait_running("gw", gw)
        self.assertEqual(self.record_pid("gateway.pid"), gw.pid)
        # ...while a newcomer locks a fresh gateway.lock: two holders of "the" lock.
        with open(self.path("gateway.lock"), "a+") as fresh:
            fcntl.flock(fresh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.assertIsNone(gw.poll())

    def test_b_poller_counts_the_held_lock_it_unlinked(self):
        gw = self.start_gateway("gw", "--acquire-window-ms", "5000")
        wait_for(lambda: self.log_line("gw", "acquire window"), "the acquire window")
        poller = self.start_poller(1)
        wait_for(lambda: not self.path("gateway.lock").exists(), "the poller to unlink the lock")
        summary = self.stop_poller(poller)
        self.assertGreaterEqual(summary["held_lock_unlinked"], 1)
        self.assertGreaterEqual(summary["unlinked"]["gateway.lock"], 1)
        self.assertEqual(summary["running"], 0)
        self.assertIsNone(gw.poll())


class ReplaceTest(HomeTestCase):
    """(c) --replace: a marker naming the old gateway, which exits 0."""

    def test_c_replace_ends_with_one_gateway(self):
        old = self.start_gateway("old")
        self.wait_running("old", old)
        new = self.start_gateway("new", "--replace")
        self.assertEqual(old.wait(timeout=DEADLINE_S), 0)
        self.assertIsNotNone(self.log_line(
            "old", "Received SIGTERM as a planned --replace takeover — exiting cleanly"))
        self.assertIsNotNone(self.log_line(
            "new", f"Replacing existing gateway instance (PID {old.pid}) with --replace."))
        self.wait_running("new", new)
        self.assertEqual(self.record_pid("gateway.pid"), new.pid)
        self.assertEqual(self.read_status()[1], {"running": True, "pid": new.pid, "unlinked": []})
        self.assertFalse(self.path(".gateway-takeover.json").exists())
        self.assertIsNone(new.poll())

    def test_replace_kills_a_gateway_that_ignores_sigterm(self):
        old = self.start_gateway("old", "--ignore-sigterm")
        self.wait_running("old", old)
        new = self.start_gateway("new", "--replace", "--replace-wait", "1")
        self.assertEqual(old.wait(timeout=DEADLINE_S), -signal.SIGKILL)
        self.wait_running("new", new)
        self.assertIsNotNone(self.log_line("new", "did not exit after SIGTERM, sending SIGKILL"))
        self.assertEqual(self.read_status()[1]["pid"], new.pid)

    def test_unannounced_sigterm_exits_1_and_sigint_exits_0(self):
        gw = self.start_gateway("gw")
        self.wait_running("gw", gw)
        gw.send_signal(signal.SIGTERM)
        self.assertEqual(gw.wait(timeout=DEADLINE_S), 1)
        state = json.loads(self.path("gateway_state.json").read_text())
        self.assertEqual(state["gateway_state"], "running")  # an unexpected stop is not recorded

        gw = self.start_gateway("gw2")
        self.wait_running("gw2", gw)
        gw.send_signal(signal.SIGINT)
        self.assertEqual(gw.wait(timeout=DEADLINE_S), 0)
        self.assertEqual(json.loads(self.path("gateway_state.json").read_text())["gateway_state"],
                         "stopped")
        self.assertFalse(self.path("gateway.pid").exists())
        self.assertTrue(self.path("gateway.lock").exists())


class StormTest(HomeTestCase):
    """(d) the respawn-storm breaker."""

    def prefill_starts(self, count):
        now = time.time()
        self.path("gateway-starts.log").write_text(
            "".join(f"{now - i!r}\n" for i in range(count, 0, -1)))

    def test_backoff_sequence(self):
        stub = load_stub()
        self.assertEqual([stub.storm_backoff_seconds(k, 5) for k in range(6, 13)],
                         [10, 20, 40, 80, 160, 300, 300])

    def test_d_sixth_start_backs_off_alive_and_without_the_lock(self):
        self.prefill_starts(5)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(notify.close)
        notify.bind(str(self.path("notify.sock")))
        notify.settimeout(DEADLINE_S)
        gw = self.start_gateway("gw", "--notify-backoff", env={
            "HERMES_STUB_STORM_SCALE": "0.5", "NOTIFY_SOCKET": str(self.path("notify.sock"))})

        self.assertEqual(notify.recv(4096), b"STATUS=backing off 5s (respawn storm)")
        self.assertEqual(notify.recv(4096), b"EXTEND_TIMEOUT_USEC=5000000")
        backing_off = self.log_line("gw", "backing off")
        self.assertIn("Gateway (re)started 6 times in 120s — backing off 10s", backing_off)
        # Sent just before a 5 s sleep: the gateway is alive and has no lock yet.
        self.assertIsNone(gw.poll())
        self.assertFalse(self.path("gateway.lock").exists())
        self.assertFalse(self.path("gateway.pid").exists())

        self.wait_running("gw", gw)
        self.assertEqual(notify.recv(4096), b"READY=1")
        running = self.log_line("gw", "Gateway running")
        self.assertGreaterEqual((log_time(running) - log_time(backing_off)).total_seconds(), 4.99)
        self.assertEqual(self.starts_logged(), 6)

    def test_fifth_start_does_not_back_off(self):
        self.prefill_starts(4)
        gw = self.start_gateway("gw")
        self.wait_running("gw", gw)
        self.assertIsNone(self.log_line("gw", "backing off"))
        self.assertEqual(self.starts_logged(), 5)

    def test_max_starts_0_turns_the_breaker_off(self):
        self.prefill_starts(10)
        gw = self.start_gateway("gw", env={"HERMES_GATEWAY_MAX_STARTS": "0"})
        self.wait_running("gw", gw)
        self.assertIsNone(self.log_line("gw", "backing off"))
        self.assertEqual(self.starts_logged(), 10)


class SupervisorTest(HomeTestCase):
    """(e) a supervisor variable skips the CLI's conflict guard, not start_gateway's."""

    def test_supervisor_variables(self):
        stub = load_stub()
        for env in ({"INVOCATION_ID": "abc"}, {"HERMES_S6_SUPERVISED_CHILD": "1"},
                    {"XPC_SERVICE_NAME": "ai.hermes.gateway"},
                    {"HERMES_GATEWAY_EXTERNAL_SUPERVISOR": "yes"}):
            self.assertTrue(stub.is_supervised(env), env)
        for env in ({}, {"XPC_SERVICE_NAME": "0"}, {"HERMES_GATEWAY_EXTERNAL_SUPERVISOR": "0"},
                    {"INVOCATION_ID": ""}):
            self.assertFalse(stub.is_supervised(env), env)

    def test_e_supervisor_variable_skips_the_conflict_guard(self):
        first = self.start_gateway("first")
        self.wait_running("first", first)
        starts = self.starts_logged()

        self.assertEqual(self.run_gateway("plain"), 1)
        self.assertIsNotNone(self.log_line(
            "plain", f"A gateway is already running (PID {first.pid})"))
        self.assertEqual(self.starts_logged(), starts)  # refused before the storm ledger

        self.assertEqual(self.run_gateway(
            "supervised", env={"HERMES_GATEWAY_EXTERNAL_SUPERVISOR": "1"}), 1)
        self.assertIsNone(self.log_line("supervised", "A gateway is already running"))
        self.assertIsNotNone(self.log_line(
            "supervised", f"Another gateway instance is already running (PID {first.pid}"))
        self.assertEqual(self.starts_logged(), starts + 1)
        self.assertEqual(self.read_status()[1]["pid"], first.pid)


if __name__ == "__main__":
    unittest.main()
