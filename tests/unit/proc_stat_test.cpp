#include "process/proc_stat.h"

#include <catch2/catch.hpp>

using hgw::parse_proc_stat;

namespace {
// Fields 3..22 after the name, with start time 987654 as field 22.
const std::string kTail = " S 1 100 100 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
} // namespace

TEST_CASE("proc stat: plain name", "[proc]")
{
    auto st = parse_proc_stat("4242 (python3)" + kTail);
    REQUIRE(st);
    CHECK(st->comm == "python3");
    CHECK(st->state == 'S');
    CHECK(st->ppid == 1);
    CHECK(st->start_time == 987654);
}

TEST_CASE("proc stat: names with spaces and parentheses", "[proc]")
{
    auto st = parse_proc_stat("4242 (evil) S 1 2 (x y)" + kTail);
    REQUIRE(st);
    CHECK(st->comm == "evil) S 1 2 (x y");
    CHECK(st->start_time == 987654);
}

TEST_CASE("proc stat: malformed lines are refused", "[proc]")
{
    CHECK_FALSE(parse_proc_stat(""));
    CHECK_FALSE(parse_proc_stat("4242 python3 S 1"));
    CHECK_FALSE(parse_proc_stat("4242 (short) S 1 2 3"));
    CHECK_FALSE(parse_proc_stat("4242 (x) S 1 100 100 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 notanumber"));
}
