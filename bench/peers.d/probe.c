/* peers-probe: the timing side of bench/peers and bench/scale.
 *
 * Every figure is CLOCK_MONOTONIC, which is one clock for the whole machine
 * (the systemd sandbox has no time namespace), so the child's own timestamp
 * of its readiness and ours of a command can be subtracted. Samples go to
 * stdout, one line each, in milliseconds (microseconds for getstatus); the
 * statistics are made by bench/peers.d/report.py. Every wait is bounded: a
 * supervisor that never brings a child back fails the run, it does not hang.
 *
 *   peers-probe bare     --child PATH --dir DIR --n N --gap-ms G
 *       fork+exec of the child with NOTIFY_SOCKET on a socket of ours, to its
 *       READY=1: the floor under every restart. Prints "ms".
 *   peers-probe restart  --report SOCK --pid PID --n N --gap-ms G -- CMD ARG...
 *       runs CMD (a supervisor's own restart command) and waits for it; then
 *       waits for a child other than the previous one to report readiness.
 *       Prints "cmd_ms child_ms": CMD's wall time, and the time from CMD's
 *       start to the new child's READY (its own timestamp).
 *   peers-probe kill     --report SOCK --pid PID --n N --gap-ms G
 *       SIGKILL to the child, then waits for a new child's readiness.
 *       Prints "child_ms".
 *   peers-probe killmany --report SOCK --pids P,P,... 
 *       SIGKILL to all of them at one moment (one loop of kill(2)), then
 *       waits until as many new children reported readiness. Prints one
 *       "child_ms" per new child.
 *   peers-probe time     --n N --gap-ms G [--expect RC] -- CMD ARG...
 *       whole-process wall time of CMD (stdout to /dev/null). Prints "ms".
 *   peers-probe hgw-restart --address ADDR [--profile NAME] --report SOCK --pid PID --n N --gap-ms G
 *       hermes-gatewayd's Restart called in-process over sd-bus on one
 *       connection opened beforehand, to the daemon of the default home or
 *       of the profile NAME (the reply must name the child that reports).
 *       Prints "call_ms child_ms".
 *   peers-probe systemd-restart --unit UNIT --report SOCK --pid PID --n N --gap-ms G
 *       systemd's RestartUnit(UNIT, "replace") in-process on the system bus,
 *       then its JobRemoved with result "done" (what `systemctl restart`
 *       waits for). Prints "call_ms child_ms".
 *   peers-probe getstatus --address ADDR [--profile NAME] --n N --at NS
 *       connects, sleeps until CLOCK_REALTIME reaches NS (the shell's
 *       $EPOCHREALTIME, so that many clients start together), then N
 *       GetStatus calls back to back to the daemon of the default home or
 *       of the profile NAME. Prints "us" per call.
 *
 * restart, kill, hgw-restart and systemd-restart take --pid-file FILE
 * instead of --pid: the current child's PID is read from FILE and the new
 * child's written back after each sample, so that a caller can take one
 * sample at a time without asking the supervisor who its child is.
 *
 * The child (bench/peers.d/child.c) sends "ready <pid> <ns>" to the report
 * socket right after its READY=1 (or s6 notification); this program binds
 * that socket for its own lifetime and removes it at exit.
 *
 * The bus names are the daemon's own, from src/util/bus_names.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "util/bus_names.h"

#define WAIT_LIMIT_NS (30LL * 1000000000LL) /* a broken run fails after this */
#define MAX_PIDS 256

static const char *g_report_path; /* unlinked at exit if we bound it */

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("peers-probe: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double ms(int64_t ns) { return (double)ns / 1e6; }

static void sleep_ms(int gap_ms)
{
    struct timespec ts = {gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void unlink_report(void)
{
    if (g_report_path)
        unlink(g_report_path);
}

/* A datagram socket bound at PATH (which must not exist: a leftover from a
 * killed run is removed first, it can only be ours). */
static int bind_datagram(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        die("socket path too long: %s", path);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        die("bind %s: %s", path, strerror(errno));
    /* Room for many children reporting at once (bench/scale). */
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return fd;
}

static int open_report(const char *path)
{
    int fd = bind_datagram(path);
    g_report_path = path;
    atexit(unlink_report);
    return fd;
}

/* Waits up to until_ns for one "ready <pid> <ns>" datagram. Returns false on
 * time-out. */
static bool next_report(int fd, int64_t until_ns, pid_t *pid, int64_t *ready_ns)
{
    for (;;) {
        char buf[128];
        ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
        if (got > 0) {
            buf[got] = '\0';
            long p;
            long long t;
            if (sscanf(buf, "ready %ld %lld", &p, &t) == 2) {
                *pid = (pid_t)p;
                *ready_ns = t;
                return true;
            }
            continue;
        }
        if (got < 0 && errno != EAGAIN && errno != EINTR)
            die("recv: %s", strerror(errno));
        int64_t left = until_ns - now_ns();
        if (left <= 0)
            return false;
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, (int)(left / 1000000 + 1));
    }
}

/* Waits for a child other than `old` to report; returns its readiness time. */
static int64_t wait_new_child(int fd, pid_t old, pid_t *new_pid, const char *what)
{
    int64_t until = now_ns() + WAIT_LIMIT_NS;
    pid_t pid;
    int64_t t;
    while (next_report(fd, until, &pid, &t))
        if (pid != old) {
            *new_pid = pid;
            return t;
        }
    die("%s: no new child reported readiness within %lld s (previous child %ld)", what,
        (long long)(WAIT_LIMIT_NS / 1000000000LL), (long)old);
}

/* Runs argv, stdout to /dev/null, and returns its exit status (-1 if killed). */
static int run_command(char **argv)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------ options */

struct options {
    const char *child, *dir, *report, *address, *unit, *pids, *profile, *pid_file;
    pid_t pid;
    int n, gap_ms, expect;
    long long at_ns;
    char **command; /* after "--" */
};

static struct options parse(int argc, char **argv)
{
    struct options o = {.n = 20, .gap_ms = 0, .expect = 0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            o.command = &argv[i + 1];
            break;
        }
        if (i + 1 >= argc)
            die("option %s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--child") == 0) o.child = v;
        else if (strcmp(a, "--dir") == 0) o.dir = v;
        else if (strcmp(a, "--report") == 0) o.report = v;
        else if (strcmp(a, "--address") == 0) o.address = v;
        else if (strcmp(a, "--unit") == 0) o.unit = v;
        else if (strcmp(a, "--pids") == 0) o.pids = v;
        else if (strcmp(a, "--profile") == 0) o.profile = v;
        else if (strcmp(a, "--pid-file") == 0) o.pid_file = v;
        else if (strcmp(a, "--pid") == 0) o.pid = (pid_t)atol(v);
        else if (strcmp(a, "--n") == 0) o.n = atoi(v);
        else if (strcmp(a, "--gap-ms") == 0) o.gap_ms = atoi(v);
        else if (strcmp(a, "--expect") == 0) o.expect = atoi(v);
        else if (strcmp(a, "--at") == 0) o.at_ns = atoll(v);
        else die("unknown option %s", a);
    }
    return o;
}

static void need(const void *value, const char *name)
{
    if (!value)
        die("%s is required", name);
}

/* ------------------------------------------------------------ modes */

static int mode_bare(const struct options *o)
{
    need(o->child, "--child");
    need(o->dir, "--dir");
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (snprintf(sock, sizeof sock, "%s/bare-notify.sock", o->dir) >= (int)sizeof sock)
        die("--dir too long");
    int fd = bind_datagram(sock);
    for (int i = 0; i < o->n; i++) {
        if (i > 0)
            sleep_ms(o->gap_ms);
        int64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            setenv("NOTIFY_SOCKET", sock, 1);
            execl(o->child, o->child, "--mode", "notify", (char *)NULL);
            _exit(127);
        }
        int64_t until = t0 + WAIT_LIMIT_NS;
        char buf[64];
        bool ready = false;
        while (!ready) {
            ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
            if (got > 0) {
                buf[got] = '\0';
                ready = strstr(buf, "READY=1") != NULL;
                continue;
            }
            int64_t left = until - now_ns();
            if (left <= 0) {
                kill(pid, SIGKILL);
                die("bare child %ld sent no READY=1", (long)pid);
            }
            struct pollfd p = {fd, POLLIN, 0};
            poll(&p, 1, (int)(left / 1000000 + 1));
        }
        int64_t t1 = now_ns();
        printf("%.4f\n", ms(t1 - t0));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    unlink(sock);
    return 0;
}

/* The restart and kill modes share one loop: ask for a new child in some
 * way (`act`), then wait for a child other than the current one to report
 * readiness. `act` returns when the asker considers the request done (the
 * command returned, the call was answered), or 0 when there is nothing to
 * answer (a kill); it may name the new child if it learned it (*announced). */
typedef int64_t (*act_fn)(void *ctx, pid_t current, pid_t *announced);

static pid_t read_pid_file(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (!f || fscanf(f, "%ld", &pid) != 1)
        die("cannot read a PID from %s", path);
    fclose(f);
    return (pid_t)pid;
}

static void write_pid_file(const char *path, pid_t pid)
{
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%ld\n", (long)pid) < 0 || fclose(f) != 0)
        die("cannot write %s", path);
}

static int ask_and_wait(const struct options *o, act_fn act, void *ctx, const char *what)
{
    need(o->report, "--report");
    pid_t current = o->pid_file ? read_pid_file(o->pid_file) : o->pid;
    if (current <= 0 || kill(current, 0) != 0)
        die("child %ld: not alive", (long)current);
    int fd = open_report(o->report);
    for (int i = 0; i < o->n; i++) {
        if (i > 0)
            sleep_ms(o->gap_ms);
        pid_t announced = 0, fresh;
        int64_t t0 = now_ns();
        int64_t t1 = act(ctx, current, &announced);
        int64_t ready = wait_new_child(fd, current, &fresh, what);
        if (announced && announced != fresh)
            die("%s named child %ld, but child %ld reported", what, (long)announced, (long)fresh);
        if (t1)
            printf("%.4f %.4f\n", ms(t1 - t0), ms(ready - t0));
        else
            printf("%.4f\n", ms(ready - t0));
        fflush(stdout);
        current = fresh;
        if (o->pid_file)
            write_pid_file(o->pid_file, current);
    }
    return 0;
}

static int64_t act_command(void *ctx, pid_t current, pid_t *announced)
{
    (void)current, (void)announced;
    char **command = ctx;
    int rc = run_command(command);
    int64_t t1 = now_ns();
    if (rc != 0)
        die("%s exited %d", command[0], rc);
    return t1;
}

static int64_t act_kill(void *ctx, pid_t current, pid_t *announced)
{
    (void)ctx, (void)announced;
    if (kill(current, SIGKILL) != 0)
        die("kill %ld: %s", (long)current, strerror(errno));
    return 0;
}

static int mode_restart(const struct options *o)
{
    need(o->command, "a command after --");
    return ask_and_wait(o, act_command, o->command, o->command[0]);
}

static int mode_kill(const struct options *o) { return ask_and_wait(o, act_kill, NULL, "kill -9"); }

static int mode_killmany(const struct options *o)
{
    need(o->report, "--report");
    need(o->pids, "--pids");
    pid_t pids[MAX_PIDS];
    int n = 0;
    for (const char *p = o->pids; *p && n < MAX_PIDS;) {
        pids[n++] = (pid_t)strtol(p, (char **)&p, 10);
        if (*p == ',')
            p++;
    }
    for (int i = 0; i < n; i++)
        if (pids[i] <= 0 || kill(pids[i], 0) != 0)
            die("pid %ld: not a live child", (long)pids[i]);
    int fd = open_report(o->report);
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    int64_t until = t0 + WAIT_LIMIT_NS;
    for (int seen = 0; seen < n;) {
        pid_t pid;
        int64_t t;
        if (!next_report(fd, until, &pid, &t))
            die("only %d of %d killed children came back within the limit", seen, n);
        bool old = false;
        for (int i = 0; i < n; i++)
            old = old || pids[i] == pid;
        if (old)
            continue;
        printf("%.4f\n", ms(t - t0));
        seen++;
    }
    return 0;
}

static int mode_time(const struct options *o)
{
    need(o->command, "a command after --");
    for (int i = 0; i < o->n; i++) {
        if (i > 0)
            sleep_ms(o->gap_ms);
        int64_t t0 = now_ns();
        int rc = run_command(o->command);
        int64_t t1 = now_ns();
        if (rc != o->expect)
            die("%s exited %d, expected %d", o->command[0], rc, o->expect);
        printf("%.4f\n", ms(t1 - t0));
    }
    return 0;
}

/* ------------------------------------------------------------ sd-bus */

static sd_bus *bus_at(const char *address)
{
    sd_bus *bus = NULL;
    int r;
    if (address) {
        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, address)) < 0 ||
            (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0)
            die("connect to %s: %s", address, strerror(-r));
    } else if ((r = sd_bus_open_system(&bus)) < 0) {
        die("connect to the system bus: %s", strerror(-r));
    }
    return bus;
}

/* The bus name of the daemon of the default home (no profile) or of a
 * profile. As hgw::bus_name_for_profile (src/core/profile.h) maps it: a
 * profile starting with a digit gets a '_' in front. */
static const char *daemon_bus_name(const char *profile)
{
    static char name[256];
    if (!profile)
        return HGW_BUS_NAME;
    const char *underscore = profile[0] >= '0' && profile[0] <= '9' ? "_" : "";
    if (snprintf(name, sizeof name, "%s.%s%s", HGW_BUS_NAME, underscore, profile) >= (int)sizeof name)
        die("--profile %s is too long", profile);
    return name;
}

struct hgw_target {
    sd_bus *bus;
    const char *name;
};

static int64_t act_hgw_restart(void *ctx, pid_t current, pid_t *announced)
{
    (void)current;
    struct hgw_target *t = ctx;
    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(t->bus, t->name, HGW_BUS_PATH, HGW_BUS_INTERFACE, HGW_BUS_METHOD_RESTART, &err, &reply,
                               "a{sv}", 0);
    int64_t t1 = now_ns();
    if (r < 0)
        die("Restart: %s", err.message ? err.message : strerror(-r));
    uint32_t pid = 0;
    uint64_t generation = 0;
    if (sd_bus_message_read(reply, "ut", &pid, &generation) < 0)
        die("Restart: unexpected reply");
    sd_bus_message_unref(reply);
    *announced = (pid_t)pid;
    return t1;
}

static int mode_hgw_restart(const struct options *o)
{
    need(o->address, "--address");
    struct hgw_target t = {bus_at(o->address), daemon_bus_name(o->profile)};
    ask_and_wait(o, act_hgw_restart, &t, "Restart");
    sd_bus_flush_close_unref(t.bus);
    return 0;
}

/* What JobRemoved told of the job we wait for. */
struct job_watch {
    sd_bus *bus;
    const char *unit;
    char path[256];
    char result[32];
    bool seen;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    (void)error;
    struct job_watch *w = userdata;
    uint32_t id;
    const char *path, *unit, *result;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
        return 0;
    if (w->path[0] && strcmp(path, w->path) == 0) {
        snprintf(w->result, sizeof w->result, "%s", result);
        w->seen = true;
    }
    return 0;
}

/* RestartUnit, then its JobRemoved, as `systemctl restart` waits for it. */
static int64_t act_systemd_restart(void *ctx, pid_t current, pid_t *announced)
{
    (void)current, (void)announced;
    struct job_watch *w = ctx;
    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    w->path[0] = '\0';
    w->seen = false;
    int64_t until = now_ns() + WAIT_LIMIT_NS;
    int r = sd_bus_call_method(w->bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "RestartUnit", &err, &reply, "ss", w->unit,
                               "replace");
    if (r < 0)
        die("RestartUnit: %s", err.message ? err.message : strerror(-r));
    const char *job;
    if (sd_bus_message_read(reply, "o", &job) < 0)
        die("RestartUnit: unexpected reply");
    snprintf(w->path, sizeof w->path, "%s", job);
    sd_bus_message_unref(reply);
    /* JobRemoved may already sit in the queue: process it, then wait. */
    while (!w->seen) {
        r = sd_bus_process(w->bus, NULL);
        if (r < 0)
            die("sd_bus_process: %s", strerror(-r));
        if (r > 0)
            continue;
        if (now_ns() > until)
            die("no JobRemoved for %s", w->path);
        sd_bus_wait(w->bus, 100000);
    }
    int64_t t1 = now_ns();
    if (strcmp(w->result, "done") != 0)
        die("restart job %s ended '%s'", w->path, w->result);
    return t1;
}

static int mode_systemd_restart(const struct options *o)
{
    need(o->unit, "--unit");
    struct job_watch w = {.bus = bus_at(NULL), .unit = o->unit};
    int r = sd_bus_match_signal(w.bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &w);
    if (r < 0)
        die("match JobRemoved: %s", strerror(-r));
    /* As systemctl does: without a subscriber, systemd sends fewer signals. */
    sd_bus_error err = SD_BUS_ERROR_NULL;
    r = sd_bus_call_method(w.bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                           "org.freedesktop.systemd1.Manager", "Subscribe", &err, NULL, "");
    if (r < 0)
        die("Subscribe: %s", err.message ? err.message : strerror(-r));
    ask_and_wait(o, act_systemd_restart, &w, "RestartUnit");
    sd_bus_flush_close_unref(w.bus);
    return 0;
}

static int mode_getstatus(const struct options *o)
{
    need(o->address, "--address");
    sd_bus *bus = bus_at(o->address);
    double *us = calloc((size_t)o->n, sizeof *us);
    if (!us)
        die("out of memory");
    const char *name = daemon_bus_name(o->profile);
    /* Every client was started with the same moment to begin. */
    struct timespec at = {(time_t)(o->at_ns / 1000000000LL), (long)(o->at_ns % 1000000000LL)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
    for (int i = 0; i < o->n; i++) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int64_t t0 = now_ns();
        int r = sd_bus_call_method(bus, name, HGW_BUS_PATH, HGW_BUS_INTERFACE, HGW_BUS_METHOD_GET_STATUS, &err,
                                   &reply, "");
        int64_t t1 = now_ns();
        if (r < 0)
            die("GetStatus: %s", err.message ? err.message : strerror(-r));
        sd_bus_message_unref(reply);
        us[i] = (double)(t1 - t0) / 1e3;
    }
    /* Printed after the loop: no write between the calls. */
    for (int i = 0; i < o->n; i++)
        printf("%.2f\n", us[i]);
    free(us);
    sd_bus_flush_close_unref(bus);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: peers-probe bare|restart|kill|killmany|time|hgw-restart|systemd-restart|getstatus OPTIONS");
    /* Our commands' output is for the log; a closed pipe must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    struct options o = parse(argc, argv);
    const char *m = argv[1];
    if (strcmp(m, "bare") == 0) return mode_bare(&o);
    if (strcmp(m, "restart") == 0) return mode_restart(&o);
    if (strcmp(m, "kill") == 0) return mode_kill(&o);
    if (strcmp(m, "killmany") == 0) return mode_killmany(&o);
    if (strcmp(m, "time") == 0) return mode_time(&o);
    if (strcmp(m, "hgw-restart") == 0) return mode_hgw_restart(&o);
    if (strcmp(m, "systemd-restart") == 0) return mode_systemd_restart(&o);
    if (strcmp(m, "getstatus") == 0) return mode_getstatus(&o);
    die("unknown mode %s", m);
}
