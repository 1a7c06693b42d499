"""The stub gateway's bot: it long-polls a Bot API's getUpdates in a thread
while the gateway runs, as Hermes' Telegram adapter does, so that the fake
Bot API (bot_api.py) sees every gateway that talks to the bot.

stop() ends polling at once and for good: no request is sent after it, and
a poll in flight is half-closed and its end awaited, so the server has
counted the poll as over before stop() returns, hence before the gateway
exits.  Only a server that cannot be reached (its link down) is not waited
for beyond the poll's own timeout.

Imported by `hermes` only when --bot-api is given.
"""

import http.client
import json
import logging
import os
import socket
import threading
from urllib.parse import quote, urlsplit

log = logging.getLogger("gateway.run")

CONFLICT_RETRY_S = 0.5  # a client that got 409 or no answer tries again after this
STOP_GRACE_S = 5.0      # beyond the poll timeout, how long stop() waits for the server


def parse_base_url(url):
    """(host, port, path prefix) of an http:// URL; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"{url!r}: only http:// URLs are supported")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"{url!r}: bad port") from exc
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a base URL has no query or fragment")
    return parts.hostname, port, parts.path.rstrip("/")


def poller_identity():
    """<host>/<pid>: HERMES_STUB_HOST names the host where hostnames are all
    the same (network namespaces share the UTS namespace)."""
    host = os.environ.get("HERMES_STUB_HOST", "").strip() or socket.gethostname()
    return f"{host}/{os.getpid()}"


class BotPoller:
    def __init__(self, url, token, poll_timeout):
        self.host, self.port, prefix = parse_base_url(url)
        self.path = f"{prefix}/bot{quote(token, safe=':')}/getUpdates?timeout={poll_timeout:g}"
        self.poll_timeout = poll_timeout
        self.identity = poller_identity()
        self.lock = threading.Lock()
        self.stopping = False
        self.sock = None  # the connection of the poll in flight, while one is
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="bot-poller", daemon=True)
        self.polls = 0

    def start(self):
        log.info("bot api: polling http://%s:%d%s as %s", self.host, self.port, self.path,
                 self.identity)
        self.thread.start()

    def stop(self):
        """Stops polling; returns once the server has seen the poll in flight end."""
        with self.lock:
            if self.stopping:
                return
            self.stopping = True
            sock = self.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        self.wake.set()
        if sock is None or not self.thread.is_alive():
            log.info("bot api: polling stopped (%d polls)", self.polls)
            return
        self.thread.join(self.poll_timeout + STOP_GRACE_S)
        if self.thread.is_alive():
            log.warning("bot api: the server did not see the last poll end (unreachable?)")
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        log.info("bot api: polling stopped (%d polls)", self.polls)

    def loop(self):
        while not self.stopping:
            try:
                status, answer = self.poll_once()
            except (OSError, http.client.HTTPException) as exc:
                if self.stopping:
                    return
                log.warning("bot api: getUpdates failed: %s", exc)
                self.wake.wait(CONFLICT_RETRY_S)
                continue
            if status is None:  # stopped before the request went out
                return
            if status == 200:
                self.polls += 1
                continue
            description = answer.get("description", "") if isinstance(answer, dict) else ""
            log.warning("bot api: getUpdates answered %d: %s", status, description)
            self.wake.wait(CONFLICT_RETRY_S)

    def poll_once(self):
        """One getUpdates: (status, decoded answer), or (None, None) when
        stop() came first and nothing was sent."""
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.poll_timeout + STOP_GRACE_S)
        try:
            conn.connect()
            # The request goes out under the lock, so it is either sent
            # before stop() looks or never.
            with self.lock:
                if self.stopping:
                    return None, None
                conn.request("GET", self.path, headers={"X-Poller": self.identity})
                self.sock = conn.sock
            try:
                response = conn.getresponse()
                body = response.read()
            finally:
                with self.lock:
                    self.sock = None
            try:
                answer = json.loads(body)
            except ValueError:
                answer = None
            return response.status, answer
        finally:
            conn.close()
