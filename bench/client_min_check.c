/* client_min_check: the least a program can do to judge a Hermes home's
 * gateway record, the floor `hermes-gatewayctl pidfile check` is measured
 * against in bench/client. bench/client links it against libc and libstdc++
 * (which it does not use), so that both pay the same loader costs and what
 * differs is the work.
 *
 * Usage: client_min_check HOME
 * The same facts as the real check, read the same way: the home is a
 * directory, this boot's id, gateway.lock, gateway.pid; with a record, the
 * recorded process's start time (/proc/PID/stat, after the last ')'), its
 * command line, and whether it holds gateway.lock (an fd of its own on the
 * lock's inode whose /proc/PID/fdinfo has a "lock:" line). No JSON parser:
 * the numbers are found by their keys.
 * Exit 0 live, 1 stale, 3 no record, 2 trouble (as `pidfile check`). */

#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads at most size-1 bytes of `path` into buf, NUL-terminated; -1 if it cannot be opened. */
static ssize_t read_file(const char *path, char *buf, size_t size, int flags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | flags);
    if (fd < 0)
        return -1;
    size_t got = 0;
    ssize_t n;
    while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/* The number after "key": in a JSON text, or -1. */
static long long json_number(const char *text, const char *key)
{
    const char *at = strstr(text, key);
    if (!at || !(at = strchr(at + strlen(key), ':')))
        return -1;
    char *end;
    long long v = strtoll(at + 1, &end, 10);
    return end == at + 1 ? -1 : v;
}

/* Field 22 of /proc/PID/stat, counted after the last ')'; -1 if gone. */
static long long start_time_of(long long pid)
{
    char path[64], stat[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    if (read_file(path, stat, sizeof stat, 0) < 0)
        return -1;
    const char *p = strrchr(stat, ')');
    for (int field = 2; p && field < 22; ++field)
        p = strchr(p + 1, ' ');
    return p ? strtoll(p + 1, NULL, 10) : -1;
}

/* Whether process `pid` holds a lock on the inode `lock` names, by its fd table and fdinfo. */
static int holds_lock(long long pid, const struct stat *lock)
{
    char dir_path[64];
    snprintf(dir_path, sizeof dir_path, "/proc/%lld/fd", pid);
    DIR *dir = opendir(dir_path);
    if (!dir)
        return 0;
    int held = 0;
    struct dirent *e;
    while (!held && (e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), e->d_name, &st, 0) != 0 || st.st_dev != lock->st_dev || st.st_ino != lock->st_ino)
            continue;
        char info_path[320], info[4096];
        snprintf(info_path, sizeof info_path, "/proc/%lld/fdinfo/%s", pid, e->d_name);
        held = read_file(info_path, info, sizeof info, 0) > 0 && strstr(info, "\nlock:") != NULL;
    }
    closedir(dir);
    return held;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: client_min_check HOME\n");
        return 2;
    }
    char pid_path[4096], lock_path[4096], boot_id[64], record[65536];
    struct stat home;
    if (stat(argv[1], &home) != 0 || !S_ISDIR(home.st_mode)) {
        fprintf(stderr, "client_min_check: %s is not a directory\n", argv[1]);
        return 2;
    }
    snprintf(pid_path, sizeof pid_path, "%s/gateway.pid", argv[1]);
    snprintf(lock_path, sizeof lock_path, "%s/gateway.lock", argv[1]);
    read_file("/proc/sys/kernel/random/boot_id", boot_id, sizeof boot_id, 0);

    struct stat lock;
    int lock_fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    int lock_exists = lock_fd >= 0 && fstat(lock_fd, &lock) == 0;
    if (lock_fd >= 0)
        close(lock_fd);

    if (read_file(pid_path, record, sizeof record, O_NONBLOCK | O_NOFOLLOW) < 0) {
        printf("none: no gateway is running (no PID file)\n  pid file: %s\n  lock:     %s, %s\n", pid_path, lock_path,
               lock_exists ? "present" : "absent");
        return 3;
    }
    long long pid = json_number(record, "\"pid\"");
    long long recorded_start = json_number(record, "\"start_time\"");
    long long start = pid > 0 ? start_time_of(pid) : -1;
    char cmdline_path[64], cmdline[4096];
    snprintf(cmdline_path, sizeof cmdline_path, "/proc/%lld/cmdline", pid);
    int runs = start >= 0 && read_file(cmdline_path, cmdline, sizeof cmdline, 0) > 0;
    int live = runs && start == recorded_start && lock_exists && holds_lock(pid, &lock);
    printf("%s: pid %lld, start_time %lld (recorded %lld), runs %s, lock %s\n", live ? "live" : "stale", pid, start,
           recorded_start, runs ? cmdline : "-", live ? "held by it" : "not held by it");
    return live ? 0 : 1;
}
