#pragma once
// A PID-file verdict as the a{sv} evidence of ValidatePidFile.

#include "core/validation.h"
#include "dbus/types.h"

namespace hgw::bus {

// Keys, each present only when it has a value:
//   reason s (stale only), summary s, pid u, start_time t, argv as,
//   record_boot_id s (from the record), boot_id s (this boot's),
//   lock_held b, lock_holders au, liveness s, process_start_time t,
//   process_argv as (the live process at pid), problem s, notes as.
VariantMap verdict_evidence(const Verdict& verdict);

} // namespace hgw::bus
