/* The sensor tests' workload: a static program (so it runs in FROM scratch)
 * whose every file access is known in advance.
 *
 *   workload touch-all DIR     the cases, all inside DIR (see below)
 *   workload drop-privs UID DIR  setgid+setuid to UID (no exec), then touch-all DIR
 *                              (an nginx worker's way to drop root)
 *   workload script-mode FILE  the interpreter of DIR/script (#!/workload script-mode)
 *   workload exit N            exit with status N
 *   workload kill-self         die of SIGKILL
 *   workload wait-term         print "ready", wait for SIGTERM, print "terminated cleanly", exit 0
 *   workload orphans N         leave N orphaned children that exit at once, print their pids, wait
 *   workload setcap FILE       give FILE the capability cap_net_bind_service+ep (raw xattr)
 *   workload bench-getppid N   time N getppid calls, print nanoseconds
 *   workload bench-stat N PATH time N stat calls, print nanoseconds
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    const char *cmd = argv[1];
    if (strcmp(cmd, "touch-all") == 0 && argc == 3) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        return touch_all();
    }
    if (strcmp(cmd, "drop-privs") == 0 && argc == 4) {
        unsigned id = (unsigned)atoi(argv[2]);
        if (setgroups(0, NULL) != 0 || setgid(id) != 0 || setuid(id) != 0)
            return 1;
        snprintf(dir, sizeof dir, "%s", argv[3]);
        return touch_all();
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
        printf("orphans made\n");
        signal(SIGTERM, on_term);
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
