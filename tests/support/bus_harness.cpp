#include "support/bus_harness.h"

#include "core/validation.h"
#include "process/pidfd.h"
#include "process/process_handle.h"
#include "util/bus_names.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hgw::test {

std::string daemon_path() { return HGW_DAEMON_PATH; }
std::string ctl_path() { return HGW_CTL_PATH; }

DaemonOptions quick(std::vector<std::string> extra_daemon_args, std::vector<std::string> gateway_args)
{
    DaemonOptions o;
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--restart-delay", "100ms"}, {"--drain-timeout", "2s"}, {"--stop-timeout", "2s"}, {"--ready-timeout", "10s"}};
    for (const auto& [flag, value] : defaults) {
        if (std::find(extra_daemon_args.begin(), extra_daemon_args.end(), flag) == extra_daemon_args.end()) {
            o.daemon_args.push_back(flag);
            o.daemon_args.push_back(value);
        }
    }
    o.daemon_args.insert(o.daemon_args.end(), extra_daemon_args.begin(), extra_daemon_args.end());
    o.gateway_args = std::move(gateway_args);
    return o;
}

Child spawn_daemon(const std::string& bus_address, const std::filesystem::path& home,
                   const std::filesystem::path& log, const NotifyListener& notify, const DaemonOptions& options,
                   const std::vector<std::string>& gateway_args)
{
    // A shell in front: its output goes to a file (an unread pipe would
    // block the daemon at 64 KiB), and it knows the daemon's pid before the
    // exec, for WATCHDOG_PID.
    std::string script = "exec >>\"$HGW_TEST_LOG\" 2>&1; unset HGW_TEST_LOG; ";
    if (options.watchdog_pid)
        script += "WATCHDOG_PID=$$; export WATCHDOG_PID; ";
    script += "exec \"$@\"";
    // --config '': a configuration file on the machine must not change the test.
    std::vector<std::string> argv = {"/bin/sh", "-c", script, "sh", daemon_path(), "--address", bus_address,
                                     "--home", home.string(), "--log-target", "stderr", "--config", ""};
    argv.insert(argv.end(), options.daemon_args.begin(), options.daemon_args.end());
    argv.push_back("--");
    auto gw = stub_command(gateway_args);
    argv.insert(argv.end(), gw.begin(), gw.end());
    SpawnOptions so;
    so.unset_env = {"HERMES_HOME", "WATCHDOG_USEC", "WATCHDOG_PID", "NOTIFY_SOCKET"};
    so.env = options.env;
    so.env["NOTIFY_SOCKET"] = notify.path();
    so.env["HGW_TEST_LOG"] = log.string();
    so.netns_fd = options.netns_fd;
    so.die_with_parent = options.netns_fd >= 0;
    return Child::spawn(argv, so);
}

GatewayDaemon::GatewayDaemon(const PrivateBus& bus, const TempHome& home, const DaemonOptions& options)
    : bus_address_(bus.address()), options_(options), paths_(home.paths()), log_(home.dir() / (options.name + ".log")),
      notify_(std::make_unique<NotifyListener>((home.dir() / (options.name + ".sock")).string())),
      child_(spawn_daemon(bus.address(), home.dir(), log_, *notify_, options, options.gateway_args))
{
    if (options.wait_ready && !notify_->wait_for("READY=1"))
        throw std::runtime_error("hermes-gatewayd sent no READY=1; its log:\n" + output());
}

int GatewayDaemon::stop()
{
    child_->signal(SIGTERM);
    auto status = child_->wait();
    return status ? *status : -1;
}

void GatewayDaemon::start_again()
{
    child_->wait(); // reaps it; a daemon still running after that is SIGKILLed by reset()
    // The previous daemon's READY=1 is still in the listener: only a later one counts.
    const std::size_t from = notify_->size();
    child_.reset();
    child_.emplace(spawn_daemon(bus_address_, paths_.home, log_, *notify_, options_, options_.gateway_args));
    if (options_.wait_ready && !notify_->find_text("READY=1", from))
        throw std::runtime_error("hermes-gatewayd, started again, sent no READY=1; its log:\n" + output());
}

std::string GatewayDaemon::output() const
{
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

GatewayDaemon::~GatewayDaemon()
{
    try {
        child_->signal(SIGTERM);
        child_->wait();
        end_orphaned_gateway(paths_);
    } catch (...) {
        // A destructor must not throw; Child's own destructor still reaps.
    }
}

void end_orphaned_gateway(const HomePaths& paths)
{
    Verdict v = validate(paths);
    if (v.kind != VerdictKind::Live || !v.process || !v.process->start_time)
        return;
    auto handle = ProcessHandle::open_verified({v.record()->pid, *v.process->start_time, current_boot_id()});
    if (!handle || !handle->send_signal(SIGKILL))
        return;
    pollfd p{handle->fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(kTimeout.count()));
}

ManagerClient::ManagerClient(const PrivateBus& bus)
    : connection_(bus.connect()), proxy_(sdbus::createProxy(*connection_, HGW_BUS_NAME, HGW_BUS_PATH))
{
    proxy_->finishRegistration();
}

std::map<std::string, sdbus::Variant> ManagerClient::status()
{
    std::map<std::string, sdbus::Variant> out;
    proxy_->callMethod(HGW_BUS_METHOD_GET_STATUS).onInterface(HGW_BUS_INTERFACE).storeResultsTo(out);
    return out;
}

std::pair<std::uint32_t, std::uint64_t> ManagerClient::call_op(const std::string& method,
                                                               const std::map<std::string, sdbus::Variant>& options)
{
    std::uint32_t pid = 0;
    std::uint64_t generation = 0;
    proxy_->callMethod(method)
        .onInterface(HGW_BUS_INTERFACE)
        .withTimeout(std::chrono::seconds(120))
        .withArguments(options)
        .storeResultsTo(pid, generation);
    return {pid, generation};
}

void ManagerClient::stop(const std::map<std::string, sdbus::Variant>& options)
{
    proxy_->callMethod(HGW_BUS_METHOD_STOP)
        .onInterface(HGW_BUS_INTERFACE)
        .withTimeout(std::chrono::seconds(120))
        .withArguments(options);
}

} // namespace hgw::test
