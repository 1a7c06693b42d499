// `hermes-gatewayctl watch`: the daemon's signals, one line each, until
// SIGINT, SIGTERM or --timeout.

#include "cli/bus/commands.h"

#include "cli/bus/gateway_client.h"
#include "cli/bus/render.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "util/unique_fd.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace hgw::cli {

namespace {

// SIGINT and SIGTERM blocked and readable from a signalfd for as long as it
// lives, so that the one loop that reads the bus also sees them; the mask is
// restored afterwards.
class StopSignals {
public:
    StopSignals()
    {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigprocmask(SIG_BLOCK, &set_, &previous_);
        fd_.reset(signalfd(-1, &set_, SFD_CLOEXEC));
        if (!fd_) {
            int err = errno;
            sigprocmask(SIG_SETMASK, &previous_, nullptr);
            throw std::runtime_error(std::string("signalfd: ") + std::strerror(err));
        }
    }
    ~StopSignals() { sigprocmask(SIG_SETMASK, &previous_, nullptr); }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    [[nodiscard]] int fd() const { return fd_.get(); }

    // Takes the pending signal, which the old mask would deliver (and die of).
    void consume() const
    {
        signalfd_siginfo info{};
        while (read(fd_.get(), &info, sizeof info) < 0 && errno == EINTR) {
        }
    }

private:
    sigset_t set_{};
    sigset_t previous_{};
    UniqueFd fd_;
};

} // namespace

int run_watch(const BusRequest& r)
{
    StopSignals stop;
    GatewayClient client(r.target);
    // Held back until the banner is out: a reader takes the banner's line
    // as "subscribed", and expects it first.
    bool banner_out = false;
    std::vector<std::string> held;
    client.subscribe([&](const BusEvent& e) {
        std::string line = r.json ? event_json(e).dump() : local_time_millis(e.received_usec) + " " + event_line(e);
        if (banner_out)
            print_line_flushed(line);
        else
            held.push_back(std::move(line));
    });
    client.settle(kQuickReplyTimeout);
    // On stderr, so stdout holds events only; also tells a reader that the
    // subscription is in place.
    print_error("watching " + r.target.bus_name + " on " + describe_bus(r.target) +
                (client.daemon_present() ? "" : " (hermes-gatewayd is not running yet)") + "\n");
    banner_out = true;
    for (const std::string& line : held)
        print_line_flushed(line);

    std::optional<Clock::time_point> deadline;
    if (r.timeout)
        deadline = Clock::now() + *r.timeout;
    // Ends at a stop signal or the deadline: both are a normal end.
    if (client.run_until([] { return false; }, deadline, stop.fd()) == WaitEnd::OtherFd)
        stop.consume();
    return exit_codes::kOk;
}

} // namespace hgw::cli
