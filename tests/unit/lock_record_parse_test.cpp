// Parsers of what other processes wrote: fdinfo `lock:` lines (issue 8, item
// 14: holders are read there) and the manager record in gatewayd.lock (item 4:
// a hostile or corrupt file is no record, never a crash).

#include "core/lock_holders.h"
#include "core/manager_record.h"

#include <catch2/catch.hpp>

using namespace hgw;

TEST_CASE("fdinfo_has_flock: a granted FLOCK line only", "[unit][lock-holders]")
{
    CHECK(fdinfo_has_flock("pos:\t0\nflags:\t0100002\nmnt_id:\t27\nino:\t42\n"
                           "lock:\t1: FLOCK  ADVISORY  WRITE 10375 fe:00:42 0 EOF\n"));
    CHECK(fdinfo_has_flock("lock:\t1: FLOCK  ADVISORY  READ 1 fe:00:42 0 EOF")); // no final newline
    CHECK_FALSE(fdinfo_has_flock("pos:\t0\nflags:\t0100002\n"));
    CHECK_FALSE(fdinfo_has_flock("lock:\t1: POSIX  ADVISORY  WRITE 10375 fe:00:42 0 EOF\n"));
    CHECK_FALSE(fdinfo_has_flock("lock:\t1: LEASE  ACTIVE    READ 10375 fe:00:42 0 EOF\n"));
    CHECK_FALSE(fdinfo_has_flock("flags: FLOCK \n"));
    CHECK_FALSE(fdinfo_has_flock(""));
}

TEST_CASE("manager record: round trip, and junk is no record", "[unit][manager-lock]")
{
    ManagerRecord r{1234, 987654321, "b818a638-15b0-48b6-b951-2a2322b6f8cc", ProcessIdentity{77, 5, "x"}};
    auto back = parse_manager_record(serialize_manager_record(r));
    REQUIRE(back);
    CHECK(back->pid == 1234);
    CHECK(back->start_time == 987654321);
    CHECK(back->boot_id == r.boot_id);
    REQUIRE(back->child);
    CHECK(back->child->pid == 77);
    r.child.reset();
    back = parse_manager_record(serialize_manager_record(r) + "\n      ");
    REQUIRE(back);
    CHECK_FALSE(back->child);

    for (const char* junk : {"", "{", "null", "[]", "{\"pid\":1}", "{\"pid\":1.5,\"start_time\":1,\"boot_id\":\"b\"}",
                             "{\"pid\":0,\"start_time\":1,\"boot_id\":\"b\"}",
                             "{\"pid\":1,\"start_time\":-1,\"boot_id\":\"b\"}",
                             "{\"pid\":1,\"start_time\":1,\"boot_id\":2}",
                             "{\"pid\":1,\"start_time\":1,\"boot_id\":\"b\",\"child\":7}",
                             "{\"pid\":1,\"start_time\":1,\"boot_id\":\"\\xff\"}",
                             "{\"pid\":1,\"start_time\":1,\"boot_id\":\"b\"} trailing"}) {
        INFO(junk);
        CHECK_FALSE(parse_manager_record(junk));
    }
    CHECK_FALSE(parse_manager_record(std::string(50000, '[')));
    CHECK_FALSE(parse_manager_record(std::string("{\"pid\":1,\0}", 11)));
}
