#pragma once
// The Hermes-faithful stub gateway (tests/stub/hermes) run for one home,
// reporting to `notify` (READY=1 once it holds the lock and wrote its record).

#include "support/child_process.h"
#include "support/temp_home.h"

#include <sys/stat.h>

#include <string>
#include <vector>

namespace hgw::test {

inline Child start_stub_gateway(const TempHome& home, const NotifyListener& notify,
                                const std::vector<std::string>& extra = {})
{
    std::vector<std::string> argv = {source_path("tests/stub/hermes"), "gateway", "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}, {"NOTIFY_SOCKET", notify.path()}};
    // The stub writes its files with the umask applied; pin it so they are 0644.
    mode_t old = ::umask(022);
    Child c = Child::spawn(argv, opts);
    ::umask(old);
    return c;
}

} // namespace hgw::test
