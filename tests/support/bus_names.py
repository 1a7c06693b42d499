#!/usr/bin/env python3
"""The D-Bus names of src/util/bus_names.h, for the Python and shell scripts
of the tests (the C and C++ code includes the header itself).

    Python:  sys.path.insert(0, "<source>/tests/support"); import bus_names
             bus_names.read()["HGW_BUS_INTERFACE"]  ->  "org.hermes.Gateway1.Manager"
    shell:   eval "$(<source>/tests/support/bus_names.py --shell)"
             sets HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, ... the same way

The header is read, not copied: each `#define HGW_... VALUE` whose VALUE is
string literals and earlier HGW_ macros (C concatenates adjacent literals) is
evaluated; a define of any other shape is an error, so that the header cannot
grow a name these scripts would silently miss.
"""

import re
import shlex
import sys
from pathlib import Path

HEADER = Path(__file__).resolve().parents[2] / "src" / "util" / "bus_names.h"

_DEFINE = re.compile(r"^\s*#\s*define\s+(HGW_\w+)\s+(.*?)\s*$")
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(HGW_\w+))')


def _evaluate(name, value, names):
    text, pos = "", 0
    while pos < len(value):
        m = _TOKEN.match(value, pos)
        if not m or (m.group(2) and m.group(2) not in names):
            raise ValueError(f"{HEADER}: cannot evaluate {name}: {value!r}")
        text += m.group(1) if m.group(1) is not None else names[m.group(2)]
        pos = m.end()
    if "\\" in text:
        raise ValueError(f"{HEADER}: {name} has an escape, which these scripts do not decode")
    return text


def read(header=HEADER):
    """Every HGW_ name of the header, by macro name, in the header's order."""
    names = {}
    for line in Path(header).read_text().splitlines():
        m = _DEFINE.match(line)
        if m:
            names[m.group(1)] = _evaluate(m.group(1), m.group(2), names)
    if "HGW_BUS_NAME" not in names:
        raise ValueError(f"{header}: no HGW_BUS_NAME")
    return names


def main(argv):
    if argv != ["--shell"]:
        print("usage: bus_names.py --shell   (prints NAME='value' lines for eval)", file=sys.stderr)
        return 2
    for name, value in read().items():
        print(f"{name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
