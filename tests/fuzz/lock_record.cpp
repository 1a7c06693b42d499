// libFuzzer target: gateway.lock's contents, as read back from the file.
//
// Hermes (and our --write-pidfile path, InstanceLock::write_record) keep the
// holder's record in gateway.lock; whoever can write the home can put any
// bytes there. This target writes the input into a real gateway.lock (held by
// this process through InstanceLock, as a gateway holds it) and reads it with
// read_record_file, the bounded, no-symlink reader every record goes through.
//
// Promises checked:
//  - read_record_file never throws for bad contents (nothing is caught);
//  - a file of ours with a safe mode is never Missing or Unsafe, always pinned;
//  - it is a Record exactly when parse_record accepts the bytes, with the same
//    fields, else Corrupt with parse_record's reason;
//  - over the size cap it is Corrupt, whatever the bytes (checked with a cap
//    below the input's size);
//  - a record read from the lock, written back by InstanceLock::write_record
//    (what a gateway started with --write-pidfile leaves there), reads back
//    as the same record.

#include "core/instance_lock.h"
#include "core/pid_record.h"
#include "core/record_file.h"
#include "fuzz_support.h"
#include "record_check.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace {

hgw::InstanceLock& held_lock()
{
    static hgw::InstanceLock* lock = [] {
        std::optional<hgw::InstanceLock> l = hgw::InstanceLock::try_acquire(hgw::fuzz::scratch_dir() / "gateway.lock");
        FUZZ_CHECK(l, "could not take the scratch gateway.lock");
        return new hgw::InstanceLock(std::move(*l));
    }();
    return *lock;
}

void check_consistent(const hgw::RecordFile& f, const hgw::RecordParse& expected)
{
    FUZZ_CHECK(f.status == hgw::FileStatus::Record || f.status == hgw::FileStatus::Corrupt,
               "our own lock file read as Missing or Unsafe: %s", f.problem.c_str());
    FUZZ_CHECK(f.id == held_lock().id(), "read a different inode than the one we hold");
    FUZZ_CHECK(f.pin && f.pin->get() >= 0, "a read file is not pinned");
    if (expected.record) {
        FUZZ_CHECK(f.status == hgw::FileStatus::Record, "parse_record accepts, the file read is %s",
                   f.problem.c_str());
        FUZZ_CHECK(f.record && hgw::fuzz::same_fields(*f.record, *expected.record), "the file read another record");
        FUZZ_CHECK(f.record->legacy == expected.record->legacy, "legacy differs");
        FUZZ_CHECK(f.problem.empty(), "a record with a problem: %s", f.problem.c_str());
    } else {
        FUZZ_CHECK(f.status == hgw::FileStatus::Corrupt && !f.record, "parse_record refuses, the file read a record");
        FUZZ_CHECK(f.problem == expected.error, "another reason: '%s' vs '%s'", f.problem.c_str(),
                   expected.error.c_str());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    hgw::InstanceLock& lock = held_lock();

    // Someone wrote these bytes into the lock file.
    hgw::fuzz::rewrite(lock.fd(), bytes);
    const hgw::RecordParse expected = bytes.size() <= hgw::kRecordSizeCap
                                          ? hgw::parse_record(bytes)
                                          : hgw::RecordParse{std::nullopt, "over the cap"};
    const hgw::RecordFile f = hgw::read_record_file(lock.path());
    if (bytes.size() > hgw::kRecordSizeCap)
        FUZZ_CHECK(f.status == hgw::FileStatus::Corrupt && !f.record, "a file over the cap was accepted");
    else
        check_consistent(f, expected);

    // The same bytes against a cap they exceed.
    if (!bytes.empty()) {
        const hgw::RecordFile small = hgw::read_record_file(lock.path(), bytes.size() - 1);
        FUZZ_CHECK(small.status == hgw::FileStatus::Corrupt && !small.record,
                   "%zu bytes accepted under a cap of %zu", bytes.size(), bytes.size() - 1);
    }

    // What we would write for that holder reads back as the same record.
    if (f.record) {
        hgw::fuzz::check_record_shape(*f.record);
        lock.write_record(*f.record);
        const hgw::RecordFile back = hgw::read_record_file(lock.path());
        FUZZ_CHECK(back.status == hgw::FileStatus::Record && back.record, "our own lock record reads as %s",
                   back.problem.c_str());
        FUZZ_CHECK(hgw::fuzz::same_fields(*back.record, *f.record), "the lock record changed through write/read");
        lock.clear_record();
        FUZZ_CHECK(hgw::read_record_file(lock.path()).status == hgw::FileStatus::Corrupt,
                   "an emptied lock file is not Corrupt (empty)");
    }
    return 0;
}
