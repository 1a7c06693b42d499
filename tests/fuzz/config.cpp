// libFuzzer target: hermes-gatewayd's configuration file (CLI11's TOML-like
// format, see packaging/gatewayd.conf), through the daemon's only entry,
// load_config(argc, argv), as `hermes-gatewayd --config FILE`: the input is
// written to a scratch file and named on the command line, so the whole path
// runs (CLI11's reader, the key checks, duration, burst, env, bus, notify
// socket and log conversions, the cross-field checks).
//
// Promises checked:
//  - load_config throws only hgw::Error for bad input ("Throws hgw::Error with
//    a clear message on invalid input"): that, with a non-empty message, is
//    caught; anything else (a CLI11 exception, std::out_of_range, ...) escapes
//    and libFuzzer reports it;
//  - a file alone never prints help or version (nullopt);
//  - a Config it returns is valid: a non-empty command, positive timeouts
//    (child-watchdog may be 0), burst in 1..1000000, env names valid, the
//    back-off bounds ordered, a grace below the ready timeout, a usable
//    notify-socket address, a known log target and level, an address for
//    an address bus, a valid profile owning a valid bus name.

#include "bus_name_check.h"
#include "core/profile.h"
#include "daemon/config.h"
#include "fuzz_support.h"
#include "util/errors.h"

#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace hgw::daemon;

namespace {

struct Scratch {
    std::string path;
    int fd;
};

const Scratch& scratch()
{
    static const Scratch* s = [] {
        // Fixed, so that defaults do not depend on who runs the fuzzer.
        ::setenv("HOME", "/nonexistent-fuzz-home", 1);
        ::setenv("HERMES_HOME", "/nonexistent-fuzz-home/.hermes", 1);
        ::setenv("XDG_CONFIG_HOME", "/nonexistent-fuzz-home/.config", 1);
        std::string path = (hgw::fuzz::scratch_dir() / "gatewayd.conf").string();
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        FUZZ_CHECK(fd >= 0, "cannot create %s", path.c_str());
        return new Scratch{path, fd};
    }();
    return *s;
}

bool valid_env_name(const std::string& name)
{
    if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (char c : name)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    return true;
}

void check_config(const Config& c)
{
    FUZZ_CHECK(!c.command.empty() && !c.command.front().empty(), "an empty gateway command");
    for (const auto& [name, value] : c.environment)
        FUZZ_CHECK(valid_env_name(name), "env name '%s'", name.c_str());
    FUZZ_CHECK(!c.hermes_home.empty(), "no home");
    FUZZ_CHECK(c.profile.empty() || hgw::is_valid_profile_name(c.profile), "profile '%s'", c.profile.c_str());
    hgw::fuzz::check_profile_bus_name(c.profile);
    FUZZ_CHECK(c.bus_name() == hgw::bus_name_for_profile(c.profile), "bus name '%s'", c.bus_name().c_str());
    if (c.bus == BusKind::Address)
        FUZZ_CHECK(!c.bus_address.empty(), "an address bus without an address");

    for (auto d : {c.ready_timeout, c.ready_grace, c.drain_timeout, c.stop_timeout, c.kill_timeout, c.restart_delay,
                   c.restart_delay_max, c.burst_window})
        FUZZ_CHECK(d.count() > 0, "a timeout of %lld us", static_cast<long long>(d.count()));
    FUZZ_CHECK(c.child_watchdog.count() >= 0, "a negative child watchdog");
    FUZZ_CHECK(c.restart_delay_max >= c.restart_delay, "restart-delay-max below restart-delay");
    if (c.readiness == Readiness::Grace)
        FUZZ_CHECK(c.ready_grace < c.ready_timeout, "ready-grace not below ready-timeout");
    FUZZ_CHECK(c.burst >= 1 && c.burst <= 1'000'000, "burst %u", c.burst);

    const std::string& n = c.notify_socket;
    constexpr std::size_t max_path = sizeof(sockaddr_un::sun_path) - 1;
    if (!n.empty()) {
        if (n[0] == '@')
            FUZZ_CHECK(n.size() >= 2 && n.size() - 1 <= max_path, "abstract notify socket '%s'", n.c_str());
        else
            FUZZ_CHECK(n[0] == '/' && n.size() <= max_path, "notify socket '%s'", n.c_str());
    }
    FUZZ_CHECK(c.log_target == "auto" || c.log_target == "journal" || c.log_target == "stderr", "log target '%s'",
               c.log_target.c_str());
    FUZZ_CHECK(c.log_level == "debug" || c.log_level == "info" || c.log_level == "warning" || c.log_level == "error",
               "log level '%s'", c.log_level.c_str());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const Scratch& s = scratch();
    hgw::fuzz::rewrite(s.fd, std::string_view(reinterpret_cast<const char*>(data), size));

    std::string arg0 = "hermes-gatewayd", flag = "--config", file = s.path;
    char* argv[] = {arg0.data(), flag.data(), file.data(), nullptr};
    try {
        std::optional<Config> c = load_config(3, argv);
        FUZZ_CHECK(c, "a config file alone printed help or version");
        check_config(*c);
    } catch (const hgw::Error& e) {
        FUZZ_CHECK(*e.what() != '\0', "an error without a message");
    }
    return 0;
}
