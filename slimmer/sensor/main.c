/* slim-sensor: slimmer's in-container sensor (static, linux/amd64).
 *
 * Usage:
 *   slim-sensor trace --log DIR -- CMD [ARGS...]
 *       PID 1 of the traced container: runs CMD under ptrace + seccomp-bpf,
 *       logs every path it touches into DIR/trace.<pid>.log, forwards
 *       SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2/SIGWINCH, reaps
 *       zombies and exits with CMD's status (128+N when signal N killed it).
 *   slim-sensor run --log DIR -- CMD [ARGS...]
 *       The same for a command started with docker exec; logs to DIR/run.<pid>.log.
 *   slim-sensor collect LIST DEST
 *       Copies every path in LIST (one escaped absolute path a line) from /
 *       into DEST, keeping type, mode, owner, times, hardlinks and xattrs;
 *       DEST "-" writes them as one tar on stdout instead (security.capability
 *       the only xattr, as in Docker's layer archives): what slim build reads;
 *       LIST "-" reads the list from stdin (a collect container started before
 *       the list exists).
 * SLIM_SENSOR_NO_SIGMASK=1 (for tests) lets signals through during the dumpable
 * injection after setuid, as without PTRACE_SETSIGMASK.
 *
 * Environment: SLIM_SENSOR_DEBUG=1 prints debug output on stderr.
 * SLIM_SENSOR_FORCE_PEEK=1 (for tests) reads the tracee's memory only with
 * PTRACE_PEEKDATA, the fallback taken when process_vm_readv is refused.
 * SLIM_SENSOR_NO_SYSCALL_INFO=1 (for tests) injects prctl after setuid without
 * confirming the stops with PTRACE_GET_SYSCALL_INFO, as on a kernel before 5.3.
 * Diagnostics are prefixed "[slim-sensor]". The log format is in log.h.
 */
#include "collect.h"
#include "trace.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: slim-sensor trace --log DIR -- CMD [ARGS...]\n"
            "       slim-sensor run --log DIR -- CMD [ARGS...]\n"
            "       slim-sensor collect LIST|- DEST|-\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *debug_env = getenv("SLIM_SENSOR_DEBUG");
    g_debug = debug_env && strcmp(debug_env, "0") != 0 && debug_env[0];
    if (argc < 2)
        return usage();
    const char *mode = argv[1];
    if (strcmp(mode, "collect") == 0) {
        if (argc != 4)
            return usage();
        return collect_main(argv[2], argv[3]);
    }
    if (strcmp(mode, "trace") != 0 && strcmp(mode, "run") != 0)
        return usage();
    const char *log_dir = NULL;
    int i = 2;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            log_dir = argv[++i];
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else
            return usage();
    }
    if (!log_dir || i >= argc)
        return usage();
    return trace_main(log_dir, argv + i, strcmp(mode, "run") == 0);
}
