/* The tiny gateway stand-in that bench/peers and bench/scale supervise.
 *
 * It announces readiness the way its supervisor understands, tells the
 * benchmark when it did so, then sleeps until a signal ends it (default
 * dispositions: SIGTERM, SIGUSR1 and SIGKILL all end it at once, so no
 * supervisor waits on a drain).
 *
 *   hermes-gateway [--mode notify|s6|none] [--fd N] [--report PATH]
 *
 * --mode notify  READY=1 on $NOTIFY_SOCKET (systemd, hermes-gatewayd)
 * --mode s6      a newline on fd N (s6's notification-fd), then close it
 * --mode none    nothing (supervisord has no readiness protocol)
 * --report PATH  after readiness, one datagram "ready <pid> <ns>" to the
 *                AF_UNIX socket PATH, <ns> being CLOCK_MONOTONIC; errors
 *                are ignored (nobody listens between measurements)
 *
 * With no arguments the same settings come from HGW_PEERS_MODE,
 * HGW_PEERS_FD and HGW_PEERS_REPORT, so that s6's ./run can be a symlink
 * to this program: no shell in front of it under any supervisor.
 *
 * It is installed as "hermes-gateway" so that the Hermes command-line rule
 * (a dedicated entry point) accepts it when hermes-gatewayd --write-pidfile
 * records it: `hermes-gatewayctl pidfile check` then judges it live.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Fills addr from a socket address as sd_notify takes it: a path, or an
 * abstract name written "@name". Returns the address length, 0 if unusable. */
static socklen_t unix_address(const char *where, struct sockaddr_un *addr)
{
    size_t len = strlen(where);
    if (len == 0 || len >= sizeof addr->sun_path)
        return 0;
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, where, len);
    if (where[0] == '@')
        addr->sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
    else if (where[0] != '/')
        return 0;
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (where[0] == '@' ? 0 : 1));
}

/* One datagram to a unix socket; 0 on success. */
static int send_datagram(const char *where, const char *text)
{
    struct sockaddr_un addr;
    socklen_t alen = unix_address(where, &addr);
    if (alen == 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t sent = sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
    close(fd);
    return sent < 0 ? -1 : 0;
}

static const char *arg_or_env(const char *arg, const char *env)
{
    return arg ? arg : getenv(env);
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *fd_text = NULL, *report = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--mode") == 0)
            mode = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--fd") == 0)
            fd_text = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--report") == 0)
            report = argv[++i];
        else if (argv[i][0] != '-')
            continue; /* s6-supervise gives ./run the service's name */
        else {
            fprintf(stderr, "usage: %s [--mode notify|s6|none] [--fd N] [--report PATH]\n", argv[0]);
            return 2;
        }
    }
    mode = arg_or_env(mode, "HGW_PEERS_MODE");
    fd_text = arg_or_env(fd_text, "HGW_PEERS_FD");
    report = arg_or_env(report, "HGW_PEERS_REPORT");
    if (!mode)
        mode = "notify";

    if (strcmp(mode, "notify") == 0) {
        const char *sock = getenv("NOTIFY_SOCKET");
        if (!sock || send_datagram(sock, "READY=1") != 0) {
            fprintf(stderr, "hermes-gateway (bench child): cannot send READY=1 to '%s': %s\n",
                    sock ? sock : "(NOTIFY_SOCKET unset)", strerror(errno));
            return 1;
        }
    } else if (strcmp(mode, "s6") == 0) {
        int fd = fd_text ? atoi(fd_text) : 3;
        if (write(fd, "\n", 1) != 1) {
            fprintf(stderr, "hermes-gateway (bench child): cannot write to notification fd %d: %s\n", fd,
                    strerror(errno));
            return 1;
        }
        close(fd);
    } else if (strcmp(mode, "none") != 0) {
        fprintf(stderr, "hermes-gateway (bench child): unknown mode '%s'\n", mode);
        return 2;
    }

    if (report && *report) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char text[96];
        snprintf(text, sizeof text, "ready %ld %lld", (long)getpid(),
                 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
        (void)send_datagram(report, text);
    }

    for (;;)
        pause();
}
