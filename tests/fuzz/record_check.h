#pragma once
// Checks shared by the PID-record and lock-record targets.

#include "core/pid_record.h"
#include "fuzz_support.h"

#include <string>
#include <vector>

namespace hgw::fuzz {

// What parse_record promises about a record it returns.
inline void check_record_shape(const PidRecord& r)
{
    FUZZ_CHECK(r.pid > 0, "pid %d", r.pid);
    if (r.manager)
        FUZZ_CHECK(r.manager->pid > 0, "manager pid %d", r.manager->pid);
    if (r.legacy)
        FUZZ_CHECK(!r.kind && !r.argv && !r.start_time && !r.hermes_home && !r.boot_id && !r.manager,
                   "a legacy bare-PID record with other fields");
}

// Field by field. serialize_record writes a missing argv as [], so an absent
// argv and an empty one are the same record; `legacy` says how the bytes
// looked, not what they mean, and is not compared.
inline bool same_fields(const PidRecord& a, const PidRecord& b)
{
    auto argv = [](const PidRecord& r) { return r.argv.value_or(std::vector<std::string>{}); };
    if (a.pid != b.pid || a.kind != b.kind || argv(a) != argv(b) || a.start_time != b.start_time ||
        a.hermes_home != b.hermes_home || a.boot_id != b.boot_id || a.manager.has_value() != b.manager.has_value())
        return false;
    if (a.manager)
        return a.manager->pid == b.manager->pid && a.manager->start_time == b.manager->start_time &&
               a.manager->name == b.manager->name && a.manager->generation == b.manager->generation;
    return true;
}

// A record we read must survive being written and read back unchanged, and
// writing it again must give the same bytes.
inline void check_round_trip(const PidRecord& r)
{
    const std::string text = serialize_record(r);
    const RecordParse back = parse_record(text);
    FUZZ_CHECK(back.record, "serialize_record wrote what parse_record refuses: %s\n  text: %s", back.error.c_str(),
               text.c_str());
    FUZZ_CHECK(!back.record->legacy, "serialize_record wrote a bare PID: %s", text.c_str());
    FUZZ_CHECK(same_fields(r, *back.record), "the record changed through serialize/parse: %s", text.c_str());
    FUZZ_CHECK(serialize_record(*back.record) == text, "serialize_record is not stable: %s", text.c_str());
}

} // namespace hgw::fuzz
