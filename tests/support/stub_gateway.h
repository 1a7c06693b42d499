#pragma once
// The Hermes-faithful stub gateway (tests/stub/hermes): its command line,
// and the stub run for one home, reporting to `notify` (READY=1 once it
// holds the lock and wrote its record).

#include "support/child_process.h"
#include "support/temp_home.h"

#include <sys/stat.h>

#include <string>
#include <vector>

namespace hgw::test {

// `<stub> gateway run EXTRA...`, as a daemon or a test runs it.
inline std::vector<std::string> stub_command(const std::vector<std::string>& extra = {})
{
    std::vector<std::string> argv = {source_path("tests/stub/hermes"), "gateway", "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

// `opts` as for any child (e.g. capture_output, uid); HERMES_HOME and
// NOTIFY_SOCKET are added to its environment.
inline Child start_stub_gateway(const TempHome& home, const NotifyListener& notify,
                                const std::vector<std::string>& extra = {}, SpawnOptions opts = {})
{
    opts.env["HERMES_HOME"] = home.dir().string();
    opts.env["NOTIFY_SOCKET"] = notify.path();
    // The stub writes its files with the umask applied; pin it so they are 0644.
    mode_t old = ::umask(022);
    Child c = Child::spawn(stub_command(extra), opts);
    ::umask(old);
    return c;
}

} // namespace hgw::test
