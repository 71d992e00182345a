/* The trace log writer: buffers records, deduplicates path records with a
 * hash set, flushes on demand (the tracer flushes every second and at exit).
 * Format: see log.h. */
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_BUFFER 65536

static int log_fd = -1;
static char buffer[LOG_BUFFER];
static size_t buffered;
static struct strmap seen;          /* "syscall\tr|w\tescaped-path" lines already written */

int log_open(const char *dir, const char *kind)
{
    char path[SENSOR_PATH_MAX];
    if (make_dirs(dir, 01777) != 0) {
        say("cannot create log directory %s: %s", dir, strerror(errno));
        return -1;
    }
    /* umask trimmed the sticky/world bits; a later non-root USER must write here */
    struct stat st;
    if (stat(dir, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 07777) != 01777)
        chmod(dir, 01777);
    snprintf(path, sizeof path, "%s/%s.%d.log", dir, kind, (int)getpid());
    log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        say("cannot open log %s: %s", path, strerror(errno));
        return -1;
    }
    strmap_init(&seen);
    static const char header[] = "#slimmer-sensor-log\t1\n";
    memcpy(buffer, header, sizeof header - 1);
    buffered = sizeof header - 1;
    log_flush();
    return 0;
}

void log_flush(void)
{
    size_t done = 0;
    while (done < buffered && log_fd >= 0) {
        ssize_t n = write(log_fd, buffer + done, buffered - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            say("cannot write log: %s", strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    buffered = 0;
}

static void append(const char *bytes, size_t len)
{
    if (buffered + len > LOG_BUFFER)
        log_flush();
    if (len > LOG_BUFFER) {            /* a huge argv: write it through */
        if (log_fd >= 0 && write(log_fd, bytes, len) < 0)
            say("cannot write log: %s", strerror(errno));
        return;
    }
    memcpy(buffer + buffered, bytes, len);
    buffered += len;
}

void log_path(const char *syscall, int write, const char *path)
{
    /* whole: a relative path joined to its base may be longer than PATH_MAX */
    static char line[64 + 4 * SENSOR_ABSOLUTE_MAX];
    int n = snprintf(line, 64, "P\t%s\t%c\t", syscall, write ? 'w' : 'r');
    size_t len = strnlen(path, SENSOR_ABSOLUTE_MAX - 1);
    size_t total = (size_t)n + escape_bytes(path, len, line + n);
    /* the set key is the line without "P\t" */
    if (!strmap_add(&seen, line + 2, total - 2, NULL))
        return;
    line[total++] = '\n';
    append(line, total);
    debug("%.*s", (int)total - 1, line);
}

void log_exec(pid_t pid, const char *exe, const char *argv, size_t argv_len)
{
    char field[4 * SENSOR_PATH_MAX + 1];
    char head[32];
    int n = snprintf(head, sizeof head, "X\t%d\t", (int)pid);
    append(head, (size_t)n);
    size_t len = strlen(exe);
    if (len >= SENSOR_PATH_MAX) len = SENSOR_PATH_MAX - 1;
    append(field, escape_bytes(exe, len, field));
    size_t start = 0;
    while (start < argv_len) {
        size_t end = start;
        while (end < argv_len && argv[end]) end++;
        size_t arg_len = end - start;
        if (arg_len >= SENSOR_PATH_MAX) arg_len = SENSOR_PATH_MAX - 1;
        append("\t", 1);
        append(field, escape_bytes(argv + start, arg_len, field));
        start = end + 1;
    }
    append("\n", 1);
    debug("exec pid %d %s", (int)pid, exe);
}

void log_exit(int status)
{
    char line[32];
    int n = snprintf(line, sizeof line, "E\t%d\n", status);
    append(line, (size_t)n);
    log_flush();
}
