#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_op_options: option maps a bus client could
send, encoded the way op_options.cpp decodes its input with libFuzzer's
FuzzedDataProvider (integers from the end of the input, one byte per 8 bits
of their range, most significant first; strings from the front, ended by a
backslash and another character; a literal backslash doubled).

    tests/fuzz/op_options_seeds.py tests/fuzz/corpus/op_options

Keep KEYS and the value cases in step with op_options.cpp."""

import os
import sys

KEYS = ["reason", "timeout_usec", "if_generation", "Reason", "reason ", "timeout",
        "timeout_usec\n", "if-generation", "", "generation"]
# make_value's cases, by the type they build.
STRING, LONG_STRING, U64_INTERESTING, U64, I64, I32 = 0, 1, 2, 3, 4, 5
BOOL, NESTED_MAP = 10, 17


class Seed:
    def __init__(self):
        self.front = b""
        self.back = []  # in the order the decoder consumes them

    def int_range(self, lo, hi, value):
        span, n = hi - lo, 0
        while n < 8 and (span >> (8 * n)) > 0:
            n += 1
        self.back += [((value - lo) >> (8 * (n - 1 - i))) & 0xFF for i in range(n)]

    def u64(self, value):
        self.back += [(value >> (8 * (7 - i))) & 0xFF for i in range(8)]

    def raw_back(self, *values):
        self.back += list(values)

    def string(self, text):
        self.front += text.encode().replace(b"\\", b"\\\\") + b"\\x"

    def raw_front(self, data):
        self.front += data

    def known_key(self, key):
        self.int_range(0, 3, 1)
        self.int_range(0, len(KEYS) - 1, KEYS.index(key))

    def other_key(self, key):
        self.int_range(0, 3, 0)
        self.string(key)

    def value_type(self, case):
        self.int_range(0, 17, case)

    def bytes(self):
        return self.front + bytes(reversed(self.back))


def seeds():
    s = Seed()
    s.known_key("reason"); s.value_type(STRING); s.string("update to 1.4.2 (hermes-gateway-update)")
    yield "reason", s

    s = Seed()
    s.known_key("reason"); s.value_type(STRING); s.string("deploy")
    s.known_key("timeout_usec"); s.value_type(U64); s.u64(30_000_000)
    s.known_key("if_generation"); s.value_type(U64); s.u64(7)
    yield "all-three", s

    s = Seed()
    s.known_key("timeout_usec"); s.value_type(U64); s.u64(0)
    yield "timeout-zero", s

    s = Seed()  # interesting_u64 case 3: INT64_MAX + 1
    s.known_key("timeout_usec"); s.value_type(U64_INTERESTING); s.int_range(0, 6, 3)
    yield "timeout-2pow63", s

    s = Seed()
    s.known_key("timeout_usec"); s.value_type(I32); s.raw_back(0, 0, 0, 5)
    yield "timeout-int32", s

    s = Seed()
    s.known_key("if_generation"); s.value_type(STRING); s.string("7")
    yield "generation-string", s

    # long_string: sizes[] = {1023, 1024, 1025, 4096, 65537}, then the fill.
    s = Seed()
    s.known_key("reason"); s.value_type(LONG_STRING); s.int_range(0, 4, 2); s.int_range(1, 4, 1); s.raw_front(b"x")
    yield "reason-1025-bytes", s

    s = Seed()
    s.known_key("reason"); s.value_type(LONG_STRING); s.int_range(0, 4, 3); s.int_range(1, 4, 2)
    s.raw_front("é".encode())
    yield "reason-4k-utf8", s

    s = Seed()
    s.known_key("reason"); s.value_type(LONG_STRING); s.int_range(0, 4, 4); s.int_range(1, 4, 1); s.raw_front(b"r")
    yield "reason-64k", s

    s = Seed()
    s.other_key("frobnicate"); s.value_type(BOOL); s.raw_back(1)
    yield "unknown-key-bool", s

    s = Seed()
    s.known_key("Reason"); s.value_type(STRING); s.string("case matters")
    yield "near-miss-key", s

    s = Seed()  # an a{sv} holding reason and timeout_usec = UINT64_MAX
    s.known_key("reason"); s.value_type(NESTED_MAP); s.raw_back(1); s.int_range(0, 6, 4)
    yield "reason-nested-map", s

    yield "empty-map", Seed()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, seed in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed.bytes())


if __name__ == "__main__":
    main()
