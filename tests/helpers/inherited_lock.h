#pragma once
// Spawning a real child that inherits a locked fd, as hermes-gatewayd hands
// gateway.lock to the gateway it spawns: the fd is made inheritable for the
// one fork and close-on-exec again right after.

#include "support/child_process.h"

#include <fcntl.h>

#include <string>
#include <vector>

namespace hgw::test {

inline Child spawn_inheriting(int fd, const std::vector<std::string>& argv, const SpawnOptions& opts = {})
{
    int flags = ::fcntl(fd, F_GETFD);
    ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    Child c = Child::spawn(argv, opts);
    ::fcntl(fd, F_SETFD, flags);
    return c;
}

} // namespace hgw::test
