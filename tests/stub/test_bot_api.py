"""Tests of the fake Bot API (bot_api.py) and of the stub gateway polling it
(hermes --bot-api, bot_poller.py).

Real processes and real sockets.  Every wait is for a datagram the fake Bot
API sends on its NOTIFY_SOCKET (a poll arrived, ended, overlapped), with a
generous deadline; nothing sleeps to let a race settle.

Run: cd tests/stub && python3 -m unittest -v test_bot_api
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True

HERE = Path(__file__).resolve().parent
HERMES = HERE / "hermes"
BOT_API = HERE / "bot_api.py"
DEADLINE_S = 30.0
CONFLICT = ("Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running")
# Variables that would change what a stub does; a test sets them itself.
STUB_VARIABLES = ("HERMES_STUB_FAITHFUL", "HERMES_STUB_BOT_API", "HERMES_STUB_BOT_TOKEN",
                  "HERMES_STUB_HOST", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                  "INVOCATION_ID")


def parse_datagram(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class BotApiTestCase(unittest.TestCase):
    """A fake Bot API on loopback, its event datagrams, and the processes a
    test starts (ended by pid in tearDown)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="hgw-botapi-")
        self.dir = Path(self.tmp.name)
        self.procs = []
        self.env = {k: v for k, v in os.environ.items() if k not in STUB_VARIABLES}
        self.events = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.events.bind(str(self.dir / "events"))
        self.seen = []
        self.overlap_log = self.dir / "overlaps.jsonl"
        self.poll_log = self.dir / "polls.jsonl"
        self.api = self.spawn([sys.executable, "-B", str(BOT_API), "--bind", "127.0.0.1",
                               "--overlap-log", str(self.overlap_log),
                               "--poll-log", str(self.poll_log)],
                              dict(self.env, NOTIFY_SOCKET=str(self.dir / "events")))
        self.port = int(self.wait_event(lambda e: "PORT" in e, "the bot API listening")["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.events.close()
        self.tmp.cleanup()

    def spawn(self, argv, env):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        self.procs.append(proc)
        return proc

    def wait_event(self, match, what, timeout=DEADLINE_S):
        """The first event datagram (not seen before) for which match() holds."""
        deadline = time.monotonic() + timeout
        for event in self.seen:
            if not event.get("_used") and match(event):
                event["_used"] = True
                return event
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; "
                                     f"events: {self.seen}")
            self.events.settimeout(left)
            try:
                event = parse_datagram(self.events.recv(4096).decode())
            except socket.timeout:
                continue
            self.seen.append(event)
            if match(event):
                event["_used"] = True
                return event

    def gateway(self, host, token="123:ABC", extra=(), env=None, via_env=False):
        """A stub gateway polling the bot API as <host>/<pid>."""
        home = self.dir / f"home-{host}-{len(self.procs)}"
        home.mkdir()
        env = dict(self.env if env is None else env, HERMES_HOME=str(home), HERMES_STUB_HOST=host)
        argv = [sys.executable, "-B", str(HERMES), "gateway", "run", "--bot-poll-timeout", "0.5",
                *extra]
        if via_env:
            env.update(HERMES_STUB_BOT_API=self.url, HERMES_STUB_BOT_TOKEN=token)
        else:
            argv += ["--bot-api", self.url, "--bot-token", token]
        proc = self.spawn(argv, env)
        proc.poller = f"{host}/{proc.pid}"
        return proc

    def polls_of(self, proc, count=1):
        for _ in range(count):
            self.wait_event(lambda e, p=proc.poller: "POLL" in e and e["POLLER"] == p,
                            f"a poll from {proc.poller}")

    def stats(self):
        with urllib.request.urlopen(f"{self.url}/stats", timeout=DEADLINE_S) as r:
            return json.load(r)

    def lines(self, path):
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def finish(self, proc, sig=signal.SIGTERM):
        proc.send_signal(sig)
        rc = proc.wait(DEADLINE_S)
        out = proc.stdout.read()
        return rc, out


class ProtocolTest(BotApiTestCase):
    """The fake Bot API alone, spoken to over HTTP."""

    def request(self, path, data=None, headers=None):
        req = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=DEADLINE_S) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def test_long_poll_answers_empty_after_its_timeout(self):
        t0 = time.monotonic()
        status, body = self.request("/bot1:A/getUpdates?timeout=0.3")
        self.assertEqual((status, body), (200, {"ok": True, "result": []}))
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        status, body = self.request("/bot1:A/getUpdates", data=b'{"timeout": 0.2}',
                                    headers={"Content-Type": "application/json"})
        self.assertEqual((status, body), (200, {"ok": True, "result": []}))
        status, body = self.request("/bot1:A/getUpdates", data=b"timeout=0")
        self.assertEqual(status, 200)
        self.assertEqual(self.stats()["polls"], 3)
        self.assertEqual(self.stats()["overlaps"], 0)

    def test_bad_requests(self):
        status, body = self.request("/bot1:A/getUpdates?timeout=soon")
        self.assertEqual(status, 400)
        self.assertIn("timeout must be a number", body["description"])
        status, body = self.request("/bot1:A/getUpdates?timeout=-1")
        self.assertEqual(status, 400)
        self.assertEqual(self.request("/bot1:A/sendMessage")[0], 404)
        self.assertEqual(self.request("/nothing")[0], 404)
        self.assertEqual(self.stats()["polls"], 0)

    def test_second_poll_in_flight_gets_409_and_is_recorded(self):
        first = {}
        thread = threading.Thread(target=lambda: first.update(
            answer=self.request("/bot9:Z/getUpdates?timeout=5&poller=one")))
        thread.start()
        self.wait_event(lambda e: e.get("POLLER") == "one", "the first poll")
        status, body = self.request("/bot9:Z/getUpdates?timeout=5",
                                    headers={"X-Poller": "two"})
        self.assertEqual(status, 409)
        self.assertEqual(body, {"ok": False, "error_code": 409, "description": CONFLICT})
        # Another token is another bot: no conflict.
        self.assertEqual(self.request("/bot8:Y/getUpdates?timeout=0&poller=three")[0], 200)
        thread.join(DEADLINE_S)
        self.assertEqual(first["answer"][0], 200)
        overlaps = self.lines(self.overlap_log)
        self.assertEqual(len(overlaps), 1, overlaps)
        o = overlaps[0]
        self.assertEqual((o["event"], o["token"], o["poller"]), ("overlap", "9:Z", "two"))
        self.assertEqual([x["poller"] for x in o["others"]], ["one"])
        self.assertLessEqual(o["others"][0]["since_mono"], o["mono"])
        self.assertLess(abs(o["wall"] - time.time()), 60)
        self.assertEqual(self.stats()["overlaps"], 1)

    def test_a_client_that_hangs_up_ends_its_poll_at_once(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE_S)
        sock.sendall(b"GET /bot1:A/getUpdates?timeout=30 HTTP/1.1\r\nHost: x\r\n"
                     b"X-Poller: quitter\r\n\r\n")
        self.wait_event(lambda e: "POLL" in e and e["POLLER"] == "quitter", "the poll")
        self.assertEqual(self.stats()["in_flight"], {"1:A": ["quitter"]})
        sock.close()
        end = self.wait_event(lambda e: "END" in e and e["POLLER"] == "quitter", "its end",
                              timeout=10)
        self.assertEqual(end["HOW"], "client-gone")
        self.assertEqual(self.stats()["in_flight"], {})


class StubPollerTest(BotApiTestCase):
    """The stub gateway polling the fake Bot API."""

    def test_one_poller_makes_no_overlap(self):
        gw = self.gateway("a")
        self.polls_of(gw, 4)
        self.assertEqual(self.stats()["overlaps"], 0)
        rc, out = self.finish(gw)
        self.assertEqual(rc, 0, out)
        # The poll in flight ended before the gateway exited.
        self.assertEqual(self.stats()["in_flight"], {}, out)
        self.assertEqual(self.lines(self.overlap_log), [])
        self.assertNotIn("409", out)

    def test_two_pollers_on_one_token_make_an_overlap_and_a_409(self):
        a = self.gateway("a")
        self.polls_of(a)
        b = self.gateway("b", via_env=True)  # HERMES_STUB_BOT_API / _TOKEN
        event = self.wait_event(lambda e: "OVERLAP" in e, "an overlap")
        self.assertIn(event["POLLER"], (a.poller, b.poller))
        rc_a, out_a = self.finish(a)
        rc_b, out_b = self.finish(b)
        self.assertEqual((rc_a, rc_b), (0, 0), out_a + out_b)
        overlaps = self.lines(self.overlap_log)
        self.assertGreaterEqual(len(overlaps), 1)
        first = overlaps[0]
        pair = {first["poller"], *(o["poller"] for o in first["others"])}
        self.assertEqual(pair, {a.poller, b.poller})
        self.assertIn("getUpdates answered 409: " + CONFLICT, out_a + out_b)

    def test_two_tokens_are_two_bots(self):
        a = self.gateway("a", token="1:A")
        b = self.gateway("b", token="2:B")
        self.polls_of(a, 3)
        self.polls_of(b, 3)
        self.assertEqual(self.stats()["overlaps"], 0)
        self.assertEqual(self.lines(self.overlap_log), [])

    def test_a_drain_stops_polling_before_the_gateway_exits(self):
        gw = self.gateway("a", extra=["--drain", "5", "--bot-poll-timeout", "20"])
        self.polls_of(gw)
        gw.send_signal(signal.SIGUSR1)
        end = self.wait_event(lambda e: "END" in e and e["POLLER"] == gw.poller,
                              "the poll's end", timeout=10)
        self.assertEqual(end["HOW"], "client-gone")
        self.assertIsNone(gw.poll(), "the gateway is still draining")
        self.assertEqual(gw.wait(DEADLINE_S), 75)
        begun = [p for p in self.lines(self.poll_log) if p["poller"] == gw.poller]
        self.assertEqual([p["event"] for p in begun], ["begin", "end"])

    def test_a_killed_poller_never_counts_against_the_next(self):
        a = self.gateway("a", extra=["--bot-poll-timeout", "20"])
        self.polls_of(a)
        a.kill()
        a.wait(DEADLINE_S)
        self.wait_event(lambda e: "END" in e and e["POLLER"] == a.poller, "the dead poll's end",
                        timeout=10)
        b = self.gateway("b")
        self.polls_of(b, 2)
        self.assertEqual(self.stats()["overlaps"], 0)

    def test_default_stub_does_not_poll(self):
        home = self.dir / "home"
        home.mkdir()
        proc = self.spawn([sys.executable, "-B", str(HERMES), "gateway", "run"],
                          dict(self.env, HERMES_HOME=str(home),
                               NOTIFY_SOCKET=str(self.dir / "events")))
        # Ready: a gateway given --bot-api would be polling by now.
        self.wait_event(lambda e: e.get("STATUS", "").startswith("Gateway running"),
                        "the stub's READY")
        rc, out = self.finish(proc)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("bot api", out)
        self.assertEqual(self.stats()["polls"], 0)

    def test_bad_bot_options_are_usage_errors(self):
        cases = {
            ("--bot-api", self.url): "--bot-api and --bot-token go together",
            ("--bot-token", "1:A"): "--bot-api and --bot-token go together",
            ("--bot-api", "https://x", "--bot-token", "1:A"): "only http:// URLs",
            ("--bot-api", "http://127.0.0.1:99999", "--bot-token", "1:A"): "bad port",
            ("--bot-api", self.url, "--bot-token", "1/A"): "no '/' or white space",
            ("--bot-api", self.url, "--bot-token", "1:A", "--bot-poll-timeout", "0"):
                "--bot-poll-timeout 0",
        }
        for args, message in cases.items():
            with self.subTest(args=args):
                r = subprocess.run([sys.executable, "-B", str(HERMES), "gateway", "run", *args],
                                   env=dict(self.env, HERMES_HOME=str(self.dir)),
                                   capture_output=True, text=True, timeout=DEADLINE_S)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)


if __name__ == "__main__":
    unittest.main()
