#pragma once
// Watches the Hermes home with inotify: a gateway's record appearing makes
// it ready at once in the default readiness mode, and any change while the
// daemon waits on the environment (a home made writable again, a lock file
// replaced, space freed by a removal) makes it try again at once.

#include "daemon/event_loop.h"
#include "util/unique_fd.h"

#include <filesystem>
#include <functional>

namespace hgw::daemon {

// What changed in the home since the last report.
struct HomeChange {
    bool record = false;         // gateway.pid: any change
    bool record_created = false; // gateway.pid created, renamed into place or written
    bool lock = false;           // gateway.lock created, removed or renamed (not mere opens)
    bool takeover = false;       // Hermes' takeover marker (.gateway-takeover.json) written
    bool starts_log = false;     // Hermes' gateway-starts.log rewritten (its storm breaker)
    // The home itself, or a file none of the daemon's own attempts touch
    // (not gateway.lock, gatewayd.lock, nor our temporary files), so a retry
    // it triggers cannot trigger itself again.
    bool other = false;
};

class HomeWatch {
public:
    using Handler = std::function<void(const HomeChange&)>;

    HomeWatch(EventLoop& loop, std::filesystem::path home, Handler on_change);

    // (Re)adds the watch; false when the home cannot be watched now (it is
    // missing): call again before the next try.
    bool ensure();

private:
    void on_readable();
    EventLoop& loop_;
    std::filesystem::path home_;
    Handler on_change_;
    UniqueFd fd_;
    EventSource source_;
    int wd_ = -1;
};

} // namespace hgw::daemon
