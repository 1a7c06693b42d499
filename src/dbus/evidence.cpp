#include "dbus/evidence.h"

#include <cstdint>

namespace hgw::bus {

namespace {

// What gateway.pid claims.
void add_record(VariantMap& out, const PidRecord& r)
{
    out["pid"] = static_cast<std::uint32_t>(r.pid);
    if (r.start_time)
        out["start_time"] = *r.start_time;
    if (r.argv)
        out["argv"] = *r.argv;
    if (r.boot_id)
        out["record_boot_id"] = *r.boot_id;
}

// What the kernel says about the process at the record's PID.
void add_process(VariantMap& out, const ProcessInfo& p)
{
    out["liveness"] = std::string(to_string(p.liveness));
    if (p.start_time)
        out["process_start_time"] = *p.start_time;
    if (p.argv)
        out["process_argv"] = *p.argv;
}

void add_lock(VariantMap& out, const LockState& lock)
{
    out["lock_held"] = lock.held;
    if (!lock.holders.empty()) {
        std::vector<std::uint32_t> holders(lock.holders.begin(), lock.holders.end());
        out["lock_holders"] = holders;
    }
}

} // namespace

VariantMap verdict_evidence(const Verdict& v)
{
    VariantMap out;
    if (v.reason)
        out["reason"] = std::string(to_string(*v.reason));
    if (!v.summary.empty())
        out["summary"] = v.summary;
    if (v.record())
        add_record(out, *v.record());
    if (!v.boot_id.empty())
        out["boot_id"] = v.boot_id;
    add_lock(out, v.lock);
    if (v.process)
        add_process(out, *v.process);
    // The lock file's problem makes the verdict unsafe before gateway.pid is read.
    const std::string& problem = v.lock.problem.empty() ? v.file.problem : v.lock.problem;
    if (!problem.empty())
        out["problem"] = problem;
    if (!v.notes.empty())
        out["notes"] = v.notes;
    return out;
}

} // namespace hgw::bus
