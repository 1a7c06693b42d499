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

class HomeWatch {
public:
    // `on_change(record_touched, other_change)`: something in the home
    // changed. record_touched: gateway.pid. other_change: the home itself or
    // a file that is not one the daemon's own attempts touch (gateway.lock,
    // gatewayd.lock, gateway.pid's temporary files), so a retry it triggers
    // cannot trigger itself again.
    using Handler = std::function<void(bool record_touched, bool other_change)>;

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
