#include "support/bus_harness.h"

#include "core/validation.h"
#include "process/pidfd.h"
#include "process/process_handle.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hgw::test {

namespace {

// A session-type bus that lets any uid connect, own names and call methods:
// authorization is the daemon's job here, and that is what the tests check.
std::string bus_config(const std::string& socket_path, const std::filesystem::path& service_dir)
{
    std::string services = service_dir.empty() ? "" : "  <servicedir>" + service_dir.string() + "</servicedir>\n";
    return R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
)" + services + R"(  <listen>unix:path=)" + socket_path + R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
)";
}

} // namespace

PrivateBus::PrivateBus(const std::filesystem::path& service_dir) : config_(dir_.dir() / "bus.conf")
{
    std::ofstream(config_) << bus_config((dir_.dir() / "bus.socket").string(), service_dir);
    start();
}

void PrivateBus::start()
{
    if (pid_ > 0)
        throw std::logic_error("PrivateBus::start: the bus runs already");
    RunResult r = run({"/usr/bin/dbus-daemon", "--config-file=" + config_.string(), "--fork", "--print-address=1",
                       "--print-pid=1"});
    std::istringstream lines(r.output);
    std::string address, pid_line;
    if (r.exit_code != 0 || !std::getline(lines, address) || !std::getline(lines, pid_line))
        throw std::runtime_error("dbus-daemon failed to start: " + r.output);
    // "unix:path=...,guid=...": the guid changes with every start; a client
    // that names one refuses a bus with another.
    if (auto guid = address.find(",guid="); guid != std::string::npos)
        address.erase(guid);
    address_ = address;
    pid_ = std::stoi(pid_line);
}

void PrivateBus::stop(int sig)
{
    if (pid_ <= 0)
        return;
    // Our own dbus-daemon, by the PID it printed. Wait until it is gone: it
    // unlinks its socket on the way out (on SIGTERM), and a directory walk
    // that loses an entry midway stops and leaves the directory behind.
    UniqueFd pidfd(hgw::pidfd_open(pid_));
    if (pidfd) {
        hgw::pidfd_send_signal(pidfd.get(), sig);
        pollfd p{pidfd.get(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(kTimeout.count()));
    } else {
        ::kill(pid_, sig);
    }
    pid_ = 0;
}

PrivateBus::~PrivateBus()
{
    try {
        stop(SIGTERM);
    } catch (...) {
        // A destructor must not throw.
    }
}

std::unique_ptr<sdbus::IConnection> PrivateBus::connect() const
{
    return sdbus::createSessionBusConnectionWithAddress(address_);
}

std::string daemon_path() { return HGW_DAEMON_PATH; }
std::string ctl_path() { return HGW_CTL_PATH; }

std::vector<std::string> stub_command(const std::vector<std::string>& extra)
{
    std::vector<std::string> argv = {source_path("tests/stub/hermes"), "gateway", "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

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

GatewayDaemon::GatewayDaemon(const PrivateBus& bus, const TempHome& home, const DaemonOptions& options)
    : paths_(home.paths()), log_(home.dir() / (options.name + ".log")),
      notify_(std::make_unique<NotifyListener>((home.dir() / (options.name + ".sock")).string())),
      child_([&] {
          // A shell in front: its output goes to a file (an unread pipe would
          // block the daemon at 64 KiB), and it knows the daemon's pid before
          // the exec, for WATCHDOG_PID.
          std::string script = "exec >>\"$HGW_TEST_LOG\" 2>&1; unset HGW_TEST_LOG; ";
          if (options.watchdog_pid)
              script += "WATCHDOG_PID=$$; export WATCHDOG_PID; ";
          script += "exec \"$@\"";
          // --config '': a configuration file on the machine must not change the test.
          std::vector<std::string> argv = {"/bin/sh", "-c", script, "sh", daemon_path(), "--address",
                                           bus.address(), "--home", home.dir().string(), "--log-target",
                                           "stderr", "--config", ""};
          argv.insert(argv.end(), options.daemon_args.begin(), options.daemon_args.end());
          argv.push_back("--");
          auto gw = stub_command(options.gateway_args);
          argv.insert(argv.end(), gw.begin(), gw.end());
          SpawnOptions so;
          so.unset_env = {"HERMES_HOME", "WATCHDOG_USEC", "WATCHDOG_PID"};
          so.env = options.env;
          so.env["NOTIFY_SOCKET"] = notify_->path();
          so.env["HGW_TEST_LOG"] = log_.string();
          return Child::spawn(argv, so);
      }())
{
    if (options.wait_ready && !notify_->wait_for("READY=1"))
        throw std::runtime_error("hermes-gatewayd sent no READY=1; its log:\n" + output());
}

int GatewayDaemon::stop()
{
    child_.signal(SIGTERM);
    auto status = child_.wait();
    return status ? *status : -1;
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
        child_.signal(SIGTERM);
        child_.wait();
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
    : connection_(bus.connect()),
      proxy_(sdbus::createProxy(*connection_, "org.hermes.Gateway1", "/org/hermes/Gateway1"))
{
    proxy_->finishRegistration();
}

std::map<std::string, sdbus::Variant> ManagerClient::status()
{
    std::map<std::string, sdbus::Variant> out;
    proxy_->callMethod("GetStatus").onInterface("org.hermes.Gateway1.Manager").storeResultsTo(out);
    return out;
}

std::pair<std::uint32_t, std::uint64_t> ManagerClient::call_op(const std::string& method,
                                                               const std::map<std::string, sdbus::Variant>& options)
{
    std::uint32_t pid = 0;
    std::uint64_t generation = 0;
    proxy_->callMethod(method)
        .onInterface("org.hermes.Gateway1.Manager")
        .withTimeout(std::chrono::seconds(120))
        .withArguments(options)
        .storeResultsTo(pid, generation);
    return {pid, generation};
}

void ManagerClient::stop(const std::map<std::string, sdbus::Variant>& options)
{
    proxy_->callMethod("Stop")
        .onInterface("org.hermes.Gateway1.Manager")
        .withTimeout(std::chrono::seconds(120))
        .withArguments(options);
}

} // namespace hgw::test
