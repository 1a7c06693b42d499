#!/usr/bin/env python3
"""A bystander process that records every signal it receives.

Usage: signal_recorder.py LOG [ARGS...]

Installs a handler on every catchable signal, then sends READY=1 to
$NOTIFY_SOCKET and waits for ever. Each signal received is appended to LOG
(its name, one a line) and then announced as SIGNAL=<name> on $NOTIFY_SOCKET.
ARGS are ignored: they let a caller give the process any command line.

To prove that nothing signalled it, send it SIGRTMAX and wait for
SIGNAL=SIGRTMAX: real-time signals are delivered after every pending standard
signal and Python runs handlers in signal-number order, so by then every
signal sent earlier is in LOG. LOG must then read exactly "SIGRTMAX\\n".
SIGKILL and SIGSTOP cannot be caught: the first kills it, the second keeps
SIGNAL=SIGRTMAX from ever arriving, so neither goes unnoticed.
"""

import os
import signal
import socket
import sys


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    log_path = sys.argv[1]
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if not addr:
        print("signal_recorder.py: NOTIFY_SOCKET is not set", file=sys.stderr)
        return 2
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def on_signal(signum, _frame):
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"SIG{signum}"
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(name + "\n")
        sock.sendto(f"SIGNAL={name}".encode(), addr)

    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, on_signal)
        except (OSError, ValueError):
            pass  # not catchable here
    sock.sendto(b"READY=1", addr)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
