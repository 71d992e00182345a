/* The sensor tests' workload: a static program (so it runs in FROM scratch)
 * whose every file access is known in advance.
 *
 *   workload touch-all DIR     the cases, all inside DIR (see below)
 *   workload drop-privs UID DIR  setgid+setuid to UID (no exec), then touch-all DIR
 *                              (an nginx worker's way to drop root)
 *   workload as-user UID CMD ARGS...  setgid+setuid to UID (no exec), then run CMD
 *   workload edge-paths DIR PATH...  chdir DIR, then open each PATH from a copy whose NUL
 *                              is the last byte before an inaccessible page
 *   workload empty-path-flag DIR  newfstatat/statx with AT_EMPTY_PATH: with non-empty paths
 *                              in DIR (ordinary lookups) and with "" and NULL (the fd itself)
 *   workload signalled-drop UID DIR N  N children each drop to UID (setgid+setuid) while a
 *                              timer (20 us down to 1 us, each call repeated until a signal lands during it) runs a handler that makes syscalls; exit 1 when
 *                              a handler was cut short, a signal stayed blocked or an id is wrong
 *   workload script-mode FILE  the interpreter of DIR/script (#!/workload script-mode)
 *   workload exit N            exit with status N
 *   workload kill-self         die of SIGKILL
 *   workload wait-term         print "ready", wait for SIGTERM, print "terminated cleanly", exit 0
 *   workload orphans N         leave N orphaned children that exit at once, print their pids, wait
 *   workload setcap FILE       give FILE the capability cap_net_bind_service+ep (raw xattr)
 *   workload bench-getppid N   time N getppid calls, print nanoseconds
 *   workload bench-stat N PATH time N stat calls, print nanoseconds
 *   workload bench-fstat N PATH time N fstat calls on PATH, print nanoseconds
 *   workload allow-all CMD...  run CMD under an allow-everything seccomp filter:
 *                              the benchmark's floor for any seccomp-based tracer
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static char dir[1024];

static void touch_read(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0)
        close(fd);
}

static void *thread_main(void *arg)
{
    (void)arg;
    char path[1100];
    snprintf(path, sizeof path, "%s/thread.txt", dir);
    touch_read(path);
    return NULL;
}

static int run_child(const char *what)
{
    char path[1100];
    pid_t child = fork();
    if (child == 0) {
        if (strcmp(what, "grandchild") == 0) {
            pid_t grandchild = fork();
            if (grandchild == 0) {
                snprintf(path, sizeof path, "%s/grandchild.txt", dir);
                touch_read(path);
                _exit(0);
            }
            waitpid(grandchild, NULL, 0);
            _exit(0);
        }
        snprintf(path, sizeof path, "%s/script", dir);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int touch_all(void)
{
    char path[1100];
    struct stat st;
    /* 1. an absolute path */
    snprintf(path, sizeof path, "%s/absolute.txt", dir);
    touch_read(path);
    /* 2. a relative path after chdir */
    if (chdir(dir) != 0)
        return 1;
    touch_read("sub/../relative.txt");
    /* 3. fstatat relative to a dirfd */
    int dirfd = open("sub", O_RDONLY | O_DIRECTORY);
    fstatat(dirfd, "at.txt", &st, 0);
    close(dirfd);
    /* 4. a stat-only check, 5. a missing file, 6. a write */
    snprintf(path, sizeof path, "%s/stat-only.txt", dir);
    stat(path, &st);
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    touch_read(path);
    snprintf(path, sizeof path, "%s/written.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
        close(fd);
    /* 7. a second thread */
    pthread_t thread;
    pthread_create(&thread, NULL, thread_main, NULL);
    pthread_join(thread, NULL);
    /* 8. a grandchild, 9. a shebang script */
    if (run_child("grandchild") != 0)
        return 1;
    return run_child("script");
}

static int drop_to(const char *uid_text)
{
    unsigned id = (unsigned)atoi(uid_text);
    return setgroups(0, NULL) != 0 || setgid(id) != 0 || setuid(id) != 0 ? -1 : 0;
}

/* A copy of text whose NUL is the last byte before a PROT_NONE page, so a reader
 * that asks for one byte past the NUL (a word straddling the page end) fails. */
static char *at_page_end(const char *text)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = strlen(text) + 1;
    size_t pages = (len + page - 1) / page;
    char *map = mmap(NULL, (pages + 1) * page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + pages * page, page, PROT_NONE) != 0)
        return NULL;
    char *copy = map + pages * page - len;
    memcpy(copy, text, len);
    return copy;
}

static int edge_paths(int count, char **paths)
{
    if (chdir(dir) != 0)
        return 1;
    for (int i = 0; i < count; i++) {
        char *copy = at_page_end(paths[i]);
        if (!copy)
            return 1;
        touch_read(copy);
    }
    return 0;
}

static int empty_path_flag(void)
{
    char path[1100];
    struct stat st;
    struct statx stx;
    /* AT_EMPTY_PATH with a non-empty path: ordinary lookups, absolute and dirfd-relative */
    snprintf(path, sizeof path, "%s/fstatat-flag.txt", dir);
    syscall(SYS_newfstatat, AT_FDCWD, path, &st, AT_EMPTY_PATH);
    snprintf(path, sizeof path, "%s/statx-flag.txt", dir);
    syscall(SYS_statx, AT_FDCWD, path, AT_EMPTY_PATH, STATX_BASIC_STATS, &stx);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY);
    syscall(SYS_newfstatat, dirfd, "sub/at-flag.txt", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    syscall(SYS_statx, dirfd, "statx-at-flag.txt", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx);
    /* the fd itself: "" and NULL (NULL: kernel 6.11+; EFAULT before) name no new path */
    syscall(SYS_newfstatat, dirfd, "", &st, AT_EMPTY_PATH);
    syscall(SYS_statx, dirfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx);
    syscall(SYS_newfstatat, dirfd, NULL, &st, AT_EMPTY_PATH);
    syscall(SYS_statx, dirfd, NULL, AT_EMPTY_PATH, STATX_BASIC_STATS, &stx);
    fstat(dirfd, &st);
    close(dirfd);
    return 0;
}

/* signalled-drop: the handler counts how often it began and how often it finished. A
 * tracer that takes one of its syscalls for another (rule 5 of trace.c) and puts back the
 * registers of the interrupted setuid jumps out of the handler: begun > finished, and the
 * signal stays blocked in the main flow. The timer fires every few microseconds from just
 * before each call, so a signal is pending whenever the tracer resumes the process from a
 * stop; a budget per call stops it, or a traced handler (slower than the period) would never
 * let the main flow go on. On a fast machine the call and all its stops can end within one
 * period, so each call is repeated (setgid and setuid to the ids already held are allowed)
 * with a shorter period until a handler ran while it was under way. */
#define SIGNALS_PER_CALL 16
#define ATTEMPTS_PER_CALL 200
static volatile sig_atomic_t handler_begun, handler_finished, signals_left;

static void set_timer(long usec)
{
    struct itimerval timer = { { 0, usec }, { 0, usec } };
    setitimer(ITIMER_REAL, &timer, NULL);
}

static void busy_handler(int sig)
{
    (void)sig;
    int saved = errno;
    handler_begun++;
    if (--signals_left <= 0)
        set_timer(0);
    char path[1100];
    struct stat st;
    snprintf(path, sizeof path, "%s/from-handler.txt", dir);
    stat(path, &st);                    /* a trapped call */
    getppid();                          /* and untrapped ones */
    sched_yield();
    handler_finished++;
    errno = saved;
}

static int call_setgid(unsigned id) { return setgid(id); }
static int call_setuid(unsigned id) { return setuid(id); }

/* 0 when every attempt of CALL succeeded and a signal landed during one of them */
static int call_while_signalled(int (*call)(unsigned), unsigned id)
{
    static const long periods[] = { 20, 10, 5, 2, 1 };
    int failed = 0;
    for (int attempt = 0; attempt < ATTEMPTS_PER_CALL; attempt++) {
        int begun = handler_begun;
        signals_left = SIGNALS_PER_CALL;
        set_timer(periods[attempt % 5]);
        failed |= call(id) != 0;
        set_timer(0);
        if (handler_begun != begun)
            return failed;
    }
    fprintf(stderr, "no signal landed during %d calls\n", ATTEMPTS_PER_CALL);
    return 1;
}

static int signalled_drop_child(const char *uid_text, int index)
{
    unsigned id = (unsigned)atoi(uid_text);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = busy_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    int failed = setgroups(0, NULL) != 0;
    failed |= call_while_signalled(call_setgid, id);
    failed |= call_while_signalled(call_setuid, id);
    sigset_t blocked;
    sigprocmask(SIG_BLOCK, NULL, &blocked);
    if (failed || getuid() != id || getgid() != id || geteuid() != id) {
        fprintf(stderr, "child %d: ids wrong after dropping (uid %u gid %u)\n", index,
                (unsigned)getuid(), (unsigned)getgid());
        return 1;
    }
    if (sigismember(&blocked, SIGALRM) || handler_begun != handler_finished) {
        fprintf(stderr, "child %d: handler cut short (begun %d, finished %d, SIGALRM %s)\n",
                index, (int)handler_begun, (int)handler_finished,
                sigismember(&blocked, SIGALRM) ? "blocked" : "not blocked");
        return 1;
    }
    /* after the drop: a path the tracer can only read if the process is dumpable again */
    char path[1100];
    snprintf(path, sizeof path, "%s/after-drop-%d.txt", dir, index);
    touch_read(path);
    return 0;
}

static int signalled_drop(const char *uid_text, int count)
{
    int failures = 0;
    for (int i = 0; i < count; i++) {
        pid_t child = fork();
        if (child == 0)
            _exit(signalled_drop_child(uid_text, i));
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d: status %#x\n", i, status);
            failures++;
        }
    }
    printf("%d of %d children dropped privileges cleanly\n", count - failures, count);
    return failures ? 1 : 0;
}

static void on_term(int sig)
{
    (void)sig;
    static const char message[] = "terminated cleanly\n";
    if (write(1, message, sizeof message - 1) < 0)
        _exit(2);
    _exit(0);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* argv[1] is the command; as-user runs the rest through here again */
static int run_command(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *cmd = argv[1];
    if (strcmp(cmd, "touch-all") == 0 && argc == 3) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        return touch_all();
    }
    if (strcmp(cmd, "drop-privs") == 0 && argc == 4) {
        if (drop_to(argv[2]) != 0)
            return 1;
        snprintf(dir, sizeof dir, "%s", argv[3]);
        return touch_all();
    }
    if (strcmp(cmd, "as-user") == 0 && argc >= 4) {
        if (drop_to(argv[2]) != 0)
            return 1;
        return run_command(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "edge-paths") == 0 && argc >= 3) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        return edge_paths(argc - 3, argv + 3);
    }
    if (strcmp(cmd, "empty-path-flag") == 0 && argc == 3) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        return empty_path_flag();
    }
    if (strcmp(cmd, "signalled-drop") == 0 && argc == 5) {
        snprintf(dir, sizeof dir, "%s", argv[3]);
        return signalled_drop(argv[2], atoi(argv[4]));
    }
    if (strcmp(cmd, "script-mode") == 0 && argc == 3) {
        /* argv[2] is DIR/script: touch DIR/from-script.txt */
        char path[1100];
        snprintf(path, sizeof path, "%s", argv[2]);
        char *slash = strrchr(path, '/');
        strcpy(slash + 1, "from-script.txt");
        touch_read(path);
        return 0;
    }
    if (strcmp(cmd, "exit") == 0 && argc == 3)
        return atoi(argv[2]);
    if (strcmp(cmd, "kill-self") == 0) {
        raise(SIGKILL);
        return 1;
    }
    if (strcmp(cmd, "wait-term") == 0) {
        signal(SIGTERM, on_term);
        printf("ready\n");
        for (;;)
            pause();
    }
    if (strcmp(cmd, "orphans") == 0 && argc == 3) {
        int count = atoi(argv[2]);
        for (int i = 0; i < count; i++) {
            int report[2];
            if (pipe(report) != 0)
                return 1;
            pid_t middle = fork();
            if (middle == 0) {
                pid_t orphan = fork();
                if (orphan == 0) {
                    /* outlive the middle process briefly, then exit unreaped by us */
                    char byte;
                    close(report[1]);
                    if (read(report[0], &byte, 1) < 0)
                        _exit(1);
                    _exit(0);
                }
                printf("orphan %d\n", (int)orphan);
                _exit(0);
            }
            waitpid(middle, NULL, 0);
            close(report[0]);
            close(report[1]);           /* the orphan's read returns: it exits */
        }
        signal(SIGTERM, on_term);       /* before saying so: the test then sends SIGTERM */
        printf("orphans made\n");
        for (;;)
            pause();
    }
    if (strcmp(cmd, "setcap") == 0 && argc == 3) {
        /* struct vfs_cap_data, revision 2: permitted+effective CAP_NET_BIND_SERVICE (10) */
        unsigned int caps[5] = { 0x02000001, 1u << 10, 0, 0, 0 };
        return setxattr(argv[2], "security.capability", caps, sizeof caps, 0) == 0 ? 0 : 1;
    }
    if (strcmp(cmd, "bench-getppid") == 0 && argc == 3) {
        long n = atol(argv[2]);
        long long start = now_ns();
        for (long i = 0; i < n; i++)
            getppid();
        printf("%lld\n", now_ns() - start);
        return 0;
    }
    if (strcmp(cmd, "bench-stat") == 0 && argc == 4) {
        long n = atol(argv[2]);
        struct stat st;
        long long start = now_ns();
        for (long i = 0; i < n; i++)
            stat(argv[3], &st);
        printf("%lld\n", now_ns() - start);
        return 0;
    }
    if (strcmp(cmd, "bench-fstat") == 0 && argc == 4) {
        long n = atol(argv[2]);
        struct stat st;
        int fd = open(argv[3], O_RDONLY);
        long long start = now_ns();
        for (long i = 0; i < n; i++)
            fstat(fd, &st);
        printf("%lld\n", now_ns() - start);
        return 0;
    }
    if (strcmp(cmd, "allow-all") == 0 && argc >= 3) {
        struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
        struct sock_fprog program = { 1, allow };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)
            return 1;
        execv(argv[2], argv + 2);
        return 127;
    }
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    return run_command(argc, argv);
}
