// libFuzzer target: /proc/<pid>/stat text, through parse_proc_stat, which
// gives the start time that identifies a process (pid + start time + boot id)
// before the daemon signals it. Field 2 is the process name, which the
// process itself chooses (prctl(PR_SET_NAME), the name it is exec'd under):
// spaces, parentheses, newlines, "fake" fields.
//
// Each input is used twice:
//  - as the whole text: no exception (nothing is caught);
//  - as a hostile name (the first up to 64 bytes, NULs dropped) and numbers
//    (the next bytes) in a line laid out as the kernel writes it: the parse
//    must give back exactly that name, state, ppid, process group and start
//    time, whatever the name holds (proc_stat.h: "the fixed fields are read
//    after the *last* ')'").

#include "fuzz_support.h"
#include "process/proc_stat.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

template <typename T>
T take(const std::uint8_t*& p, const std::uint8_t* end)
{
    T v{};
    std::size_t n = std::min<std::size_t>(sizeof v, static_cast<std::size_t>(end - p));
    std::memcpy(&v, p, n);
    p += n;
    return v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    (void)hgw::parse_proc_stat(std::string_view(reinterpret_cast<const char*>(data), size));

    const std::uint8_t* p = data;
    const std::uint8_t* end = data + size;
    std::size_t name_len = std::min<std::size_t>(size, 64);
    std::string comm;
    for (std::size_t i = 0; i < name_len; ++i)
        if (data[i] != 0)
            comm.push_back(static_cast<char>(data[i]));
    p += name_len;
    static const char kStates[] = "RSDZTtXxKWPI";
    const char state = kStates[take<std::uint8_t>(p, end) % (sizeof kStates - 1)];
    const auto pid = static_cast<pid_t>(take<std::uint32_t>(p, end) & 0x3fffff);
    const auto ppid = static_cast<pid_t>(take<std::uint32_t>(p, end) & 0x3fffff);
    const auto pgrp = static_cast<pid_t>(take<std::uint32_t>(p, end) & 0x3fffff);
    const auto start = take<std::uint64_t>(p, end);

    // fs/proc/array.c, do_task_stat(): 52 fields, the name unescaped.
    char tail[512];
    std::snprintf(tail, sizeof tail,
                  ") %c %d %d %d 0 -1 4194560 1234 0 5 0 17 9 0 0 20 0 1 0 %llu 12345678 2345 "
                  "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                  state, ppid, pgrp, pgrp, static_cast<unsigned long long>(start));
    const std::string line = std::to_string(pid) + " (" + comm + tail;

    const auto st = hgw::parse_proc_stat(line);
    FUZZ_CHECK(st, "a kernel-shaped stat line was refused: %s", line.c_str());
    FUZZ_CHECK(st->comm == comm, "name '%s' read as '%s'", comm.c_str(), st->comm.c_str());
    FUZZ_CHECK(st->state == state && st->ppid == ppid && st->pgrp == pgrp && st->start_time == start,
               "fields misread behind name '%s': state %c ppid %d pgrp %d start %llu", comm.c_str(), st->state,
               st->ppid, st->pgrp, static_cast<unsigned long long>(st->start_time));
    return 0;
}
