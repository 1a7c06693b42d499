/* client_gateway: the gateway bench/client runs under hermes-gatewayd, one
 * that costs next to nothing to start, so that what a restart costs is the
 * daemon's and the client's work, not Python's start-up.
 *
 * Sends READY=1 to $NOTIFY_SOCKET at once; then, like Hermes, exits 75 on
 * SIGUSR1 (drained: "restart me") and 0 on SIGTERM or SIGINT. bench/client
 * installs it as .../hermes-gateway, a name hermes-gatewayd takes for a
 * gateway's. */

#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0; /* not supervised for readiness: nothing to say */
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof addr.sun_path)
        return -1;
    memcpy(addr.sun_path, path, len);
    if (addr.sun_path[0] == '@') /* an abstract socket */
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    static const char ready[] = "READY=1";
    ssize_t sent = sendto(fd, ready, sizeof ready - 1, 0, (struct sockaddr *)&addr,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
    return sent < 0 ? -1 : 0;
}

int main(void)
{
    /* Blocked before READY=1: a stop that follows at once is not lost. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGUSR1);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    if (notify_ready() < 0) {
        perror("client_gateway: READY=1");
        return 1;
    }
    int sig = 0;
    if (sigwait(&stop, &sig) != 0)
        return 1;
    return sig == SIGUSR1 ? 75 : 0;
}
