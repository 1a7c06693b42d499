#!/usr/bin/env python3
"""A fake Telegram Bot API for tests: long polls, and the detector of "two
gateways" on one bot.

`GET` or `POST /bot<TOKEN>/getUpdates?timeout=N` is held for up to N seconds
(0 to 50; a JSON or form body may carry `timeout` too) and answered
`{"ok":true,"result":[]}`.  A poll that arrives while another poll of the same
token is in flight is answered at once with Telegram's 409 Conflict, and
recorded as an **overlap**: one JSON line in --overlap-log naming both pollers
(the `X-Poller` header, else the `poller` query parameter, else the peer
address) with CLOCK_MONOTONIC and wall-clock times.  Two requests in flight at
once as this server sees them is what Telegram calls a conflict, so that is
the detector, not a count of processes.

A held poll ends early when its client closes or half-closes the connection
(a gateway that stops, or one killed: the kernel closes its socket), so a
dead poller never counts against the next one.  A poller cut off without a
FIN (its link down) stays in flight until its timeout ends, as it would at
Telegram.

`GET /stats` answers {"in_flight": {token: [poller...]}, "polls", "overlaps",
"by_poller": {poller: polls}}.  With NOTIFY_SOCKET set it sends sd_notify-style
datagrams, so that a test waits for events instead of asking /stats again and
again: `READY=1\\nPORT=<port>` once listening; `POLL=<count>\\nPOLLER=<id>` for
each poll that arrives; `OVERLAP=<count>\\nPOLLER=<id>` for each overlap;
`END=<poll id>\\nPOLLER=<id>\\nHOW=<answered|client-gone|server-stop>` for each
poll that ends.  It prints `PORT <port>` on stdout too.  SIGTERM or SIGINT
ends it (exit 0).

Usage: bot_api.py [--bind ADDR] [--port N] [--overlap-log FILE] [--poll-log FILE]
"""

import argparse
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CONFLICT = ("Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running")
MAX_POLL_TIMEOUT_S = 50  # Telegram's own limit
MAX_BODY = 1 << 16


def stamps():
    return {"mono": time.clock_gettime(time.CLOCK_MONOTONIC), "wall": time.time()}


class Notifier:
    """sd_notify datagrams to NOTIFY_SOCKET, if set."""

    def __init__(self):
        addr = os.environ.get("NOTIFY_SOCKET", "")
        self.addr = "\0" + addr[1:] if addr.startswith("@") else addr
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if addr else None

    def send(self, text):
        if self.sock is not None:
            try:
                self.sock.sendto(text.encode(), self.addr)
            except OSError:
                pass  # nobody listens any more: the test is over


class JsonLines:
    """A JSON-lines file, one flushed line per record (no file: nothing)."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8", buffering=1) if path else None

    def write(self, record):
        if self.file is not None:
            self.file.write(json.dumps(record, separators=(",", ":")) + "\n")


class Ledger:
    """The polls in flight per token and what was seen, under one lock."""

    def __init__(self, overlap_log, poll_log, notifier):
        self.lock = threading.Lock()
        self.in_flight = {}  # token -> {poll id: {"poller", "peer", "since_mono"}}
        self.polls = 0
        self.overlaps = 0
        self.by_poller = {}
        self.next_id = 0
        self.overlap_log = JsonLines(overlap_log)
        self.poll_log = JsonLines(poll_log)
        self.notifier = notifier

    def begin(self, token, poller, peer):
        """A poll arrives: its id, or None when another poll of the token is
        in flight (an overlap, recorded)."""
        with self.lock:
            now = stamps()
            self.polls += 1
            self.by_poller[poller] = self.by_poller.get(poller, 0) + 1
            others = list(self.in_flight.get(token, {}).values())
            self.notifier.send(f"POLL={self.polls}\nPOLLER={poller}")
            if others:
                self.overlaps += 1
                self.overlap_log.write({"event": "overlap", "token": token, **now, "poller": poller,
                                        "peer": peer, "others": others})
                self.poll_log.write({"event": "conflict", "token": token, **now, "poller": poller,
                                     "peer": peer})
                self.notifier.send(f"OVERLAP={self.overlaps}\nPOLLER={poller}")
                return None
            self.next_id += 1
            self.in_flight.setdefault(token, {})[self.next_id] = {
                "poller": poller, "peer": peer, "since_mono": now["mono"]}
            self.poll_log.write({"event": "begin", "token": token, **now, "poller": poller,
                                 "peer": peer})
            return self.next_id

    def end(self, token, poll_id, how):
        """`how`: answered, client-gone or server-stop."""
        with self.lock:
            polls = self.in_flight.get(token, {})
            poll = polls.pop(poll_id, None)
            if not polls:
                self.in_flight.pop(token, None)
            if poll is not None:
                self.poll_log.write({"event": "end", "token": token, **stamps(),
                                     "poller": poll["poller"], "peer": poll["peer"], "how": how})
                self.notifier.send(f"END={poll_id}\nPOLLER={poll['poller']}\nHOW={how}")

    def stats(self):
        with self.lock:
            return {"in_flight": {t: [p["poller"] for p in polls.values()]
                                  for t, polls in self.in_flight.items()},
                    "polls": self.polls, "overlaps": self.overlaps,
                    "by_poller": dict(self.by_poller)}


class BadRequest(Exception):
    pass


def poll_timeout(query, body, content_type):
    """The `timeout` of a getUpdates call, from the query or the body."""
    values = parse_qs(query).get("timeout", [])
    if not values and body:
        if content_type.startswith("application/json"):
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise BadRequest(f"body is not JSON: {exc}") from exc
            if isinstance(data, dict) and "timeout" in data:
                values = [data["timeout"]]
        else:
            values = parse_qs(body.decode("utf-8", "replace")).get("timeout", [])
    if not values:
        return 0.0
    try:
        value = float(values[0])
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"timeout must be a number, not {values[0]!r}") from exc
    if value != value or value < 0:
        raise BadRequest(f"timeout must be 0 or more, not {values[0]!r}")
    return min(value, MAX_POLL_TIMEOUT_S)


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-bot-api/1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, description):
        self.reply(code, {"ok": False, "error_code": code, "description": description})

    def route(self):
        url = urlsplit(self.path)
        if url.path == "/stats":
            self.reply(200, self.server.ledger.stats())
            return
        parts = url.path.split("/")
        if len(parts) == 3 and parts[0] == "" and parts[1].startswith("bot") and len(parts[1]) > 3 \
                and parts[2] == "getUpdates":
            self.get_updates(parts[1][3:], url.query)
            return
        self.error(404, "Not Found")

    def read_body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise BadRequest("Content-Length is not a number") from exc
        if length < 0 or length > MAX_BODY:
            raise BadRequest(f"Content-Length {length} out of range")
        return self.rfile.read(length) if length else b""

    def poller(self, query):
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        name = self.headers.get("X-Poller") or (parse_qs(query).get("poller") or [""])[0]
        return (name or f"?@{peer}"), peer

    def get_updates(self, token, query):
        try:
            timeout = poll_timeout(query, self.read_body(), self.headers.get("Content-Type", ""))
        except BadRequest as exc:
            self.error(400, f"Bad Request: {exc}")
            return
        poller, peer = self.poller(query)
        ledger = self.server.ledger
        poll_id = ledger.begin(token, poller, peer)
        if poll_id is None:
            self.error(409, CONFLICT)
            return
        how = "server-stop"
        try:
            how = self.hold(timeout)
        finally:
            # Over before the answer goes out: a poller that asks again the
            # instant it has its answer must not overlap with itself.
            ledger.end(token, poll_id, how)
        if how == "answered":
            self.reply(200, {"ok": True, "result": []})
        else:
            self.close_connection = True

    def hold(self, timeout):
        """Waits out the long poll: 'answered' when it ran its time,
        'client-gone' when the client closed its side first, 'server-stop'."""
        deadline = time.monotonic() + timeout
        watched = [self.server.stop_r, self.connection]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "answered"
            readable, _, _ = select.select(watched, [], [], left)
            if self.server.stop_r in readable:
                return "server-stop"
            if self.connection in readable:
                try:
                    data = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return "client-gone"
                if not data:
                    return "client-gone"
                # Bytes of a next request: only the clock is watched now.
                watched = [self.server.stop_r]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bot_api.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--bind", default="0.0.0.0", metavar="ADDR",
                   help="IPv4 address to listen on (default 0.0.0.0: every namespace's link)")
    p.add_argument("--port", type=int, default=0, metavar="N",
                   help="port to listen on (default 0: one the kernel picks)")
    p.add_argument("--overlap-log", metavar="FILE", help="append one JSON line per overlap")
    p.add_argument("--poll-log", metavar="FILE",
                   help="append one JSON line per poll begun, ended or refused")
    p.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port {args.port}: not a port number")
    try:
        socket.inet_aton(args.bind)
    except OSError:
        p.error(f"--bind {args.bind!r}: not an IPv4 address")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Blocked before any thread starts, so that every thread inherits the
    # mask and only the sigwait below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    notifier = Notifier()
    try:
        server = Server((args.bind, args.port), Handler)
    except OSError as exc:
        print(f"bot_api.py: cannot listen on {args.bind}:{args.port}: {exc}", file=sys.stderr)
        return 1
    server.ledger = Ledger(args.overlap_log, args.poll_log, notifier)
    server.verbose = args.verbose
    server.stop_r, stop_w = os.pipe()
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, name="serve", daemon=True).start()
    print(f"PORT {port}", flush=True)
    notifier.send(f"READY=1\nPORT={port}")
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    os.write(stop_w, b"x")  # held polls end now
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
