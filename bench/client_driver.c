/* client_driver: times what bench/client compares, side by side in one run.
 *
 *   client_driver run [--address ADDR] [--rounds N] [--warmup N] [--gap-ms N] CONTENDER...
 *     CONTENDER: call LABEL METHOD          an in-process call on one connection
 *                                           kept open (ADDR needed): Restart or GetStatus
 *              | spawn LABEL EXIT ARGC ARG...  a whole process: posix_spawn, then
 *                                           waitpid; it must exit EXIT
 *   Each round runs every contender once, starting with a different one each
 *   round, so that a change of load falls on all of them alike. Prints one
 *   "LABEL<TAB>ROUND<TAB>MICROSECONDS" line per timed sample (warm-up rounds
 *   are not printed). A call that fails or a process that exits otherwise stops the
 *   run (exit 1): a broken setup must not pass for a fast one.
 *
 *   client_driver oneshot ADDR METHOD
 *     A plain C sd-bus client: connect, call METHOD without auto-start, read
 *     the reply, exit 0. What a bus command of hermes-gatewayctl is compared
 *     with when both run as whole processes.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "util/bus_names.h"

extern char **environ;

#define MAX_CONTENDERS 16

struct contender {
    const char *label;
    const char *method; /* a call, or NULL for a process */
    int expect;         /* the process's exit code */
    char **argv;        /* NULL-terminated */
};

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "client_driver: %s: %s\n", what, strerror(r < 0 ? -r : r));
    exit(1);
}

static sd_bus *connect_to(const char *address)
{
    sd_bus *bus = NULL;
    int r = sd_bus_new(&bus);
    if (r >= 0)
        r = sd_bus_set_address(bus, address);
    if (r >= 0)
        r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0)
        r = sd_bus_start(bus);
    if (r < 0)
        die("connect", r);
    return bus;
}

/* Calls METHOD on hermes-gatewayd (no auto-start, as hermes-gatewayctl) and checks the reply. */
static void call(sd_bus *bus, const char *method)
{
    sd_bus_message *m = NULL, *reply = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = sd_bus_message_new_method_call(bus, &m, HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, method);
    if (r >= 0)
        r = sd_bus_message_set_auto_start(m, 0);
    if (r >= 0 && strcmp(method, HGW_BUS_METHOD_GET_STATUS) != 0)
        r = sd_bus_message_append(m, "a{sv}", 0);
    if (r < 0)
        die("build the call", r);
    r = sd_bus_call(bus, m, 60 * 1000000ull, &error, &reply);
    if (r < 0) {
        fprintf(stderr, "client_driver: %s: %s: %s\n", method, error.name ? error.name : "?",
                error.message ? error.message : strerror(-r));
        exit(1);
    }
    if (strcmp(method, HGW_BUS_METHOD_GET_STATUS) == 0) {
        r = sd_bus_message_skip(reply, "a{sv}");
    } else {
        uint32_t pid = 0;
        uint64_t generation = 0;
        r = sd_bus_message_read(reply, "ut", &pid, &generation);
        if (r >= 0 && pid == 0)
            r = -EPROTO;
    }
    if (r < 0)
        die("the reply", r);
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_message_unref(m);
}

static void run_process(const struct contender *c, posix_spawn_file_actions_t *quiet)
{
    pid_t pid;
    int r = posix_spawn(&pid, c->argv[0], quiet, NULL, c->argv, environ);
    if (r != 0)
        die(c->argv[0], r);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid", errno);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != c->expect) {
        fprintf(stderr, "client_driver: %s: wait status %d, expected exit %d (run it by hand to see why)\n", c->label,
                status, c->expect);
        exit(1);
    }
}

static int parse_int(const char *text, const char *what)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 0 || v > 1000000) {
        fprintf(stderr, "client_driver: bad %s '%s'\n", what, text);
        exit(2);
    }
    return (int)v;
}

static int run(int argc, char **argv)
{
    const char *address = NULL;
    int rounds = 100, warmup = 5, gap_ms = 0, n = 0;
    struct contender cs[MAX_CONTENDERS];
    for (int i = 0; i < argc; ++i) {
        if (strcmp(argv[i], "--address") == 0 && i + 1 < argc) {
            address = argv[++i];
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = parse_int(argv[++i], "--rounds");
        } else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) {
            warmup = parse_int(argv[++i], "--warmup");
        } else if (strcmp(argv[i], "--gap-ms") == 0 && i + 1 < argc) {
            gap_ms = parse_int(argv[++i], "--gap-ms");
        } else if (strcmp(argv[i], "call") == 0 && i + 2 < argc && n < MAX_CONTENDERS) {
            cs[n++] = (struct contender){.label = argv[i + 1], .method = argv[i + 2]};
            i += 2;
        } else if (strcmp(argv[i], "spawn") == 0 && i + 3 < argc && n < MAX_CONTENDERS) {
            int count = parse_int(argv[i + 3], "ARGC");
            if (count < 1 || i + 3 + count >= argc) {
                fprintf(stderr, "client_driver: %s: fewer than %d arguments\n", argv[i + 1], count);
                return 2;
            }
            cs[n] = (struct contender){.label = argv[i + 1], .expect = parse_int(argv[i + 2], "EXIT")};
            cs[n].argv = calloc((size_t)count + 1, sizeof(char *));
            if (!cs[n].argv)
                die("calloc", ENOMEM);
            memcpy(cs[n].argv, argv + i + 4, (size_t)count * sizeof(char *));
            ++n;
            i += 3 + count;
        } else {
            fprintf(stderr, "client_driver: unexpected '%s' (see the comment at the top of client_driver.c)\n", argv[i]);
            return 2;
        }
    }
    if (n == 0) {
        fprintf(stderr, "client_driver: nothing to run\n");
        return 2;
    }
    sd_bus *bus = address ? connect_to(address) : NULL;
    for (int i = 0; i < n; ++i)
        if (cs[i].method && !bus) {
            fprintf(stderr, "client_driver: %s needs --address\n", cs[i].label);
            return 2;
        }
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);

    const struct timespec gap = {gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L};
    for (int round = 0; round < warmup + rounds; ++round) {
        for (int k = 0; k < n; ++k) {
            const struct contender *c = &cs[(round + k) % n];
            if (gap_ms > 0)
                nanosleep(&gap, NULL);
            uint64_t start = now_usec();
            if (c->method)
                call(bus, c->method);
            else
                run_process(c, &quiet);
            uint64_t took = now_usec() - start;
            if (round >= warmup)
                printf("%s\t%d\t%llu\n", c->label, round - warmup, (unsigned long long)took);
        }
    }
    posix_spawn_file_actions_destroy(&quiet);
    for (int i = 0; i < n; ++i)
        free(cs[i].argv);
    sd_bus_flush_close_unref(bus);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run(argc - 2, argv + 2);
    if (argc == 4 && strcmp(argv[1], "oneshot") == 0) {
        sd_bus *bus = connect_to(argv[2]);
        call(bus, argv[3]);
        sd_bus_flush_close_unref(bus);
        return 0;
    }
    fprintf(stderr, "usage: client_driver run [--address ADDR] [--rounds N] [--warmup N] [--gap-ms N] CONTENDER...\n"
                    "       client_driver oneshot ADDR METHOD\n");
    return 2;
}
