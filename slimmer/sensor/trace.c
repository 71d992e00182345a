/* trace and run modes: start the app under ptrace + seccomp, record the paths
 * it touches, and (trace mode) do PID 1's duties.
 *
 * How a trapped call is handled, and why:
 *  1. The child blocks on a pipe until the parent has PTRACE_SEIZEd it with all
 *     options set; only then does it install the seccomp filter. A filter that
 *     returns TRACE with no tracer (or a tracer without TRACESECCOMP) makes the
 *     call fail with ENOSYS, so the order matters.
 *  2. Each trapped call stops the tracee once, at entry (PTRACE_EVENT_SECCOMP);
 *     there is no syscall-exit stop. Whether the path exists is judged later
 *     against the image.
 *  3. Paths are made absolute at the moment of the call from /proc/TID/cwd and
 *     /proc/TID/fd/N, then normalised lexically (symlinks are not resolved:
 *     they must be resolved against the image, not this container).
 *  4. PTRACE_SEIZE (not TRACEME) makes group-stops visible as
 *     PTRACE_EVENT_STOP, so a stopped job stays stopped (PTRACE_LISTEN) and
 *     every other signal is injected back unchanged.
 *  5. A process that drops privileges (an nginx worker: root forks, then
 *     setuid) becomes non-dumpable, and a sensor without CAP_SYS_PTRACE
 *     (Docker's default) could no longer read its memory. So after each
 *     setuid-family call returns, the sensor injects prctl(PR_SET_DUMPABLE, 1)
 *     into the process (a stop at that call's exit, the same registers with the
 *     prctl number, rip back over the `syscall` instruction, then the saved
 *     registers restored), and PTRACE_PEEKDATA works again. The task's signals
 *     are blocked (PTRACE_SETSIGMASK) from that exit to the prctl's exit, so no
 *     handler runs while it cannot be read; pending ones come right after.
 *     /proc/PID/cwd and fd/N stay closed to a root sensor for another uid: they are read with the
 *     sensor's fsuid/fsgid switched to the process's, and the cwd is also
 *     cached per task (inherited at fork, updated on chdir).
 *     Every stop of the injection is confirmed with PTRACE_GET_SYSCALL_INFO
 *     (Linux 5.3+): the setuid call's exit (its number; an entry stop is waited
 *     past), then the entry of exactly our prctl (its number, argument and
 *     address). Should a signal handler still run in between (without
 *     PTRACE_SETSIGMASK), making syscalls of its own, it is let through untouched; the
 *     registers are put back only at our prctl's exit. Older kernels: the
 *     stops are taken in the post-4.8 order, unconfirmed.
 *  6. The main process's exit ends the trace: the log is completed and the
 *     sensor exits with the same status; PTRACE_O_EXITKILL takes the rest along.
 *  7. No forwarded signal is lost at the start: they are blocked from the
 *     start of trace_main until main_pid is set (a blocked signal stays
 *     pending, even for a PID 1 that would otherwise discard it). The child
 *     puts back the default handlers and the original mask just before exec,
 *     so a SIGTERM that came early reaches it there (as tini and dumb-init do).
 *  8. Strings are read from the tracee page by page (process_vm_readv) or, when
 *     that is refused (ENOSYS, EPERM for a tracee that changed uid, or
 *     SLIM_SENSOR_FORCE_PEEK=1), word by word with PTRACE_PEEKDATA at aligned
 *     addresses, so that no read crosses into a page after the string. A path
 *     with no NUL within PATH_MAX bytes, or running into an unreadable page,
 *     names no file (the kernel fails the call) and is not logged.
 */
#include "log.h"
#include "syscalls.h"
#include "trace.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK 0x420a
#define PTRACE_SETSIGMASK 0x420b
#endif

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#define AT_FDCWD_VALUE (-100)

#define TRACEE_PAGE 4096UL

static volatile pid_t main_pid;
static volatile sig_atomic_t flush_due;
static int vm_readv_works = 1;
static int syscall_info_works = 1;
static sigset_t app_signal_mask;        /* the mask the sensor was started with (rule 7) */

static const int forwarded_signals[] = {
    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
};
#define FORWARDED_COUNT (sizeof forwarded_signals / sizeof forwarded_signals[0])

/* Rule 7: called first thing, before any handler exists. */
static void block_forwarded_signals(void)
{
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (size_t i = 0; i < FORWARDED_COUNT; i++)
        sigaddset(&forwarded, forwarded_signals[i]);
    sigprocmask(SIG_BLOCK, &forwarded, &app_signal_mask);
}

static void forward_signal(int sig)
{
    int saved = errno;
    if (main_pid > 0)
        kill(main_pid, sig);
    errno = saved;
}

static void on_alarm(int sig)
{
    (void)sig;
    flush_due = 1;
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = forward_signal;
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < FORWARDED_COUNT; i++)
        sigaction(forwarded_signals[i], &sa, NULL);
    /* no SA_RESTART: the alarm must interrupt waitpid so a quiet app still gets flushed */
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every_second = { { 1, 0 }, { 1, 0 } };
    setitimer(ITIMER_REAL, &every_second, NULL);
}

/* --- what we remember per task (rule 5) ------------------------------------ */

/* A cache, not a registry: a collision only costs the fallback for one task. */
#define TASK_SLOTS 65536

enum injection {
    INJECT_NONE,
    INJECT_AWAIT_EXIT,      /* the setuid-family call is running */
    INJECT_AWAIT_ENTRY,     /* prctl(PR_SET_DUMPABLE) is about to run */
    INJECT_AWAIT_DONE,      /* prctl ran: restore the saved registers */
};

struct task_memory {
    pid_t tid;
    char *cwd;
    char *exec_path;
    enum injection injection;
    long creds_nr;                      /* the setuid-family call being injected after */
    unsigned long foreign_stops;        /* a signal handler's syscall stops meanwhile */
    struct user_regs_struct saved;
    uint64_t saved_mask;                /* the task's signal mask before the injection */
    int mask_saved;
};

static struct task_memory tasks[TASK_SLOTS];

static struct task_memory *task(pid_t tid, int create)
{
    struct task_memory *slot = &tasks[(unsigned)tid % TASK_SLOTS];
    if (slot->tid == tid)
        return slot;
    if (!create)
        return NULL;
    free(slot->cwd);
    free(slot->exec_path);
    memset(slot, 0, sizeof *slot);
    slot->tid = tid;
    return slot;
}

static void remember(char **field, const char *value)
{
    if (*field && strcmp(*field, value) == 0)
        return;
    free(*field);
    *field = strdup(value);
}

static void forget_task(pid_t tid)
{
    struct task_memory *slot = task(tid, 0);
    if (slot) {
        free(slot->cwd);
        free(slot->exec_path);
        memset(slot, 0, sizeof *slot);
    }
}

/* --- reading the tracee ---------------------------------------------------- */

/* Rule 8, the fallback: continues reading at out[from] with PTRACE_PEEKDATA.
 * Words are read at aligned addresses: an aligned word never straddles a page,
 * so a string that ends at the last byte of a page is read whole. */
static ssize_t peek_string(pid_t tid, unsigned long addr, char *out, size_t size, size_t from)
{
    size_t o = from;
    while (o < size) {
        unsigned long at = addr + o, word_at = at & ~(unsigned long)(sizeof(long) - 1);
        size_t skip = at - word_at, take = sizeof(long) - skip;
        if (take > size - o)
            take = size - o;
        errno = 0;
        long word = ptrace(PTRACE_PEEKDATA, tid, (void *)word_at, NULL);
        if (errno) {
            /* EIO/EFAULT: unreadable before the NUL, so the call fails with EFAULT */
            out[0] = '\0';
            return -1;
        }
        memcpy(out + o, (char *)&word + skip, take);
        char *end = memchr(out + o, '\0', take);
        if (end)
            return end - out;
        o += take;
    }
    out[0] = '\0';
    debug("path at %#lx of %d is longer than PATH_MAX: the call fails with ENAMETOOLONG",
          addr, (int)tid);
    return -1;
}

/* Reads the NUL-terminated string at addr into out (size bytes: PATH_MAX with its
 * NUL); returns its length, or -1 with out = "" when it names no file (rule 8). */
static ssize_t read_string(pid_t tid, unsigned long addr, char *out, size_t size)
{
    out[0] = '\0';
    if (addr == 0)
        return -1;
    size_t got = 0;
    if (vm_readv_works) {
        /* page by page: a transfer fails at an unmapped page, and most paths
         * end in the page they start in, so one call (one pinned page) is typical */
        while (got < size) {
            unsigned long at = addr + got;
            size_t len = TRACEE_PAGE - (at & (TRACEE_PAGE - 1));
            if (len > size - got)
                len = size - got;
            struct iovec local = { out + got, len }, remote = { (void *)at, len };
            ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
            if (n <= 0)
                break;
            char *end = memchr(out + got, '\0', (size_t)n);
            if (end)
                return end - out;
            got += (size_t)n;
        }
        if (got == size) {
            out[0] = '\0';
            debug("path at %#lx of %d is longer than PATH_MAX: the call fails with ENAMETOOLONG",
                  addr, (int)tid);
            return -1;
        }
        if (errno == ENOSYS || errno == EPERM) {
            /* no such syscall, or a tracee that changed uid: PEEKDATA still works */
            debug("process_vm_readv failed (%s), using PTRACE_PEEKDATA", strerror(errno));
            if (errno == ENOSYS)
                vm_readv_works = 0;
        } else if (errno != EFAULT) {
            out[0] = '\0';
            return -1;                  /* ESRCH: the task is gone */
        }
        /* EFAULT: PEEKDATA tells whether the page is really unreadable */
    }
    return peek_string(tid, addr, out, size, got);
}

/* The real uid and gid of a task, from /proc/TID/status (readable by anyone). */
static int task_ids(pid_t tid, uid_t *uid, gid_t *gid)
{
    char where[64], status[4096];
    snprintf(where, sizeof where, "/proc/%d/status", (int)tid);
    int fd = open(where, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, status, sizeof status - 1);
    close(fd);
    if (n <= 0)
        return -1;
    status[n] = '\0';
    char *uid_line = strstr(status, "\nUid:"), *gid_line = strstr(status, "\nGid:");
    if (!uid_line || !gid_line)
        return -1;
    *uid = (uid_t)strtoul(uid_line + 5, NULL, 10);
    *gid = (gid_t)strtoul(gid_line + 5, NULL, 10);
    return 0;
}

/* /proc/TID/<what> as a path; 0 on success. */
static int proc_link(pid_t tid, const char *what, char *out, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/%s", (int)tid, what);
    ssize_t n = readlink(link, out, size - 1);
    uid_t uid;
    gid_t gid;
    if (n < 0 && (errno == EACCES || errno == EPERM) && geteuid() == 0
        && task_ids(tid, &uid, &gid) == 0) {
        /* rule 5: /proc checks the reader's fsuid/fsgid against the task's ids */
        setfsgid(gid);
        setfsuid(uid);
        n = readlink(link, out, size - 1);
        setfsuid(0);
        setfsgid(0);
    }
    if (n < 0)
        return -1;
    out[n] = '\0';
    return out[0] == '/' ? 0 : -1;     /* "pipe:[...]", "socket:[...]" are no directories */
}

/* The directory a dirfd-relative path starts from. */
static int base_directory(pid_t tid, long dirfd, char *out, size_t size)
{
    if ((int)dirfd == AT_FDCWD_VALUE) {
        if (proc_link(tid, "cwd", out, size) == 0) {
            remember(&task(tid, 1)->cwd, out);
            return 0;
        }
        struct task_memory *known = task(tid, 0);
        if (!known || !known->cwd)
            return -1;
        snprintf(out, size, "%s", known->cwd);
        return 0;
    }
    char what[32];
    snprintf(what, sizeof what, "fd/%d", (int)dirfd);
    return proc_link(tid, what, out, size);
}

static unsigned long argument(const struct user_regs_struct *regs, int index)
{
    switch (index) {
    case 0: return regs->rdi;
    case 1: return regs->rsi;
    case 2: return regs->rdx;
    case 3: return regs->r10;
    case 4: return regs->r8;
    default: return regs->r9;
    }
}

static int wants_write(pid_t tid, const struct syscall_spec *spec,
                       const struct user_regs_struct *regs)
{
    unsigned long flags;
    if (spec->open_flags == -2) {
        /* openat2: struct open_how starts with the u64 flags */
        errno = 0;
        long word = ptrace(PTRACE_PEEKDATA, tid, (void *)argument(regs, 2), NULL);
        if (errno)
            return 0;
        flags = (unsigned long)word;
    } else {
        flags = argument(regs, spec->open_flags);
    }
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

/* Returns 1 when the tracee must be resumed with PTRACE_SYSCALL (rule 5). */
static int record_syscall(pid_t tid)
{
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) != 0)
        return 0;
    const struct syscall_spec *spec = syscall_spec((long)regs.orig_rax);
    if (!spec)
        return 0;
    if (spec->changes_creds) {
        struct task_memory *state = task(tid, 1);
        /* a handler's setuid while ours is under way: our prctl, still to come, covers it */
        if (state->injection == INJECT_NONE) {
            state->injection = INJECT_AWAIT_EXIT;
            state->creds_nr = (long)regs.orig_rax;
            state->foreign_stops = 0;
        }
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        const struct path_arg *arg = &spec->paths[i];
        if (arg->path < 0)
            continue;
        char path[SENSOR_PATH_MAX], base[SENSOR_PATH_MAX], absolute[SENSOR_ABSOLUTE_MAX];
        ssize_t len = read_string(tid, argument(&regs, arg->path), path, sizeof path);
        if (len < 0)
            continue;                   /* NULL, unreadable or too long: the call fails */
        long dirfd = arg->dirfd >= 0 ? (long)argument(&regs, arg->dirfd) : AT_FDCWD_VALUE;
        if (len == 0 && (spec->nr == SYS_newfstatat || spec->nr == SYS_statx))
            return 0;                   /* fstat(): the file was logged when it was opened */
        if (len == 0) {
            /* "" names the dirfd itself only with AT_EMPTY_PATH (else ENOENT) */
            if (spec->at_flags < 0 || !(argument(&regs, spec->at_flags) & AT_EMPTY_PATH)
                || i > 0 || arg->dirfd < 0)
                continue;
            if (base_directory(tid, dirfd, absolute, sizeof absolute) != 0)
                continue;
        } else if (path[0] == '/') {
            join_path(absolute, sizeof absolute, "/", path);
        } else {
            if (base_directory(tid, dirfd, base, sizeof base) != 0) {
                debug("cannot resolve %s of %d: no base directory", path, (int)tid);
                continue;
            }
            join_path(absolute, sizeof absolute, base, path);
        }
        int write = arg->access == ACCESS_WRITE
            || (arg->access == ACCESS_OPEN_FLAGS && wants_write(tid, spec, &regs));
        log_path(spec->name, write, absolute);
        /* optimistic: a failed chdir/execve is rare and only feeds the fallback */
        if (spec->nr == SYS_chdir)
            remember(&task(tid, 1)->cwd, absolute);
        else if (spec->nr == SYS_execve || spec->nr == SYS_execveat)
            remember(&task(tid, 1)->exec_path, absolute);
    }
    return 0;
}

/* Which syscall stop this is (rule 5): PTRACE_SYSCALL_INFO_ENTRY or _EXIT with
 * info filled in, or PTRACE_SYSCALL_INFO_NONE when the kernel cannot say (< 5.3). */
static int syscall_stop_kind(pid_t tid, struct __ptrace_syscall_info *info)
{
    if (!syscall_info_works)
        return PTRACE_SYSCALL_INFO_NONE;
    memset(info, 0, sizeof *info);
    if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof *info, info) <= 0) {
        if (errno == EIO) {
            syscall_info_works = 0;
            debug("no PTRACE_GET_SYSCALL_INFO: syscall stops are taken in the post-4.8 order");
        }
        return PTRACE_SYSCALL_INFO_NONE;
    }
    return info->op;
}

/* Signals stay pending while the injection runs: the kernel would deliver them on the
 * way back to user space, before our prctl, to a handler whose syscalls could not be
 * read while the process is not dumpable (rule 5). SIGKILL and SIGSTOP cannot be blocked. */
static int sigmask_works = 1;

static void block_signals(pid_t tid, struct task_memory *state)
{
    uint64_t all = ~(uint64_t)0;
    state->mask_saved = sigmask_works
        && ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof state->saved_mask, &state->saved_mask) == 0
        && ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof all, &all) == 0;
}

static void end_injection(pid_t tid, struct task_memory *state)
{
    if (state->mask_saved
        && ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof state->saved_mask, &state->saved_mask) != 0)
        say("cannot restore the signal mask of %d after making it dumpable", (int)tid);
    state->mask_saved = 0;
    state->injection = INJECT_NONE;
}

/* A syscall stop of a task in the middle of rule 5's injection; returns 1 when
 * the next stop is needed (resume with PTRACE_SYSCALL), 0 when done. */
static int continue_injection(pid_t tid, struct task_memory *state)
{
    struct user_regs_struct regs;
    struct __ptrace_syscall_info info;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) != 0) {
        end_injection(tid, state);
        return 0;
    }
    int kind = syscall_stop_kind(tid, &info);
    switch (state->injection) {
    case INJECT_AWAIT_EXIT:
        if (kind == PTRACE_SYSCALL_INFO_ENTRY)
            return 1;                   /* not the exit yet (the pre-4.8 order) */
        if (kind == PTRACE_SYSCALL_INFO_EXIT && (long)regs.orig_rax != state->creds_nr) {
            /* not the call we stopped at: changing registers here would be a guess */
            debug("%d: exit of syscall %ld, expected %ld: not made dumpable", (int)tid,
                  (long)regs.orig_rax, state->creds_nr);
            state->injection = INJECT_NONE;
            return 0;
        }
        state->saved = regs;
        regs.orig_rax = regs.rax = SYS_prctl;
        regs.rdi = PR_SET_DUMPABLE;
        regs.rsi = 1;
        regs.rip -= 2;                  /* back over the 2-byte `syscall` instruction */
        block_signals(tid, state);
        if (ptrace(PTRACE_SETREGS, tid, NULL, &regs) != 0) {
            end_injection(tid, state);
            return 0;
        }
        state->injection = INJECT_AWAIT_ENTRY;
        return 1;
    case INJECT_AWAIT_ENTRY:
        if (kind != PTRACE_SYSCALL_INFO_NONE
            && (kind != PTRACE_SYSCALL_INFO_ENTRY || info.entry.nr != SYS_prctl
                || info.entry.args[0] != PR_SET_DUMPABLE
                || info.instruction_pointer != state->saved.rip)) {
            /* a signal handler's syscall before our prctl: the handler's frame holds
             * our registers, its sigreturn brings the prctl back */
            if (state->foreign_stops++ == 0)
                debug("%d: a signal handler runs before the injected prctl", (int)tid);
            return 1;
        }
        state->injection = INJECT_AWAIT_DONE;
        return 1;
    case INJECT_AWAIT_DONE:
        if (kind != PTRACE_SYSCALL_INFO_NONE && kind != PTRACE_SYSCALL_INFO_EXIT)
            return 1;
        if (ptrace(PTRACE_SETREGS, tid, NULL, &state->saved) != 0)
            say("cannot restore registers of %d after making it dumpable", (int)tid);
        debug("made %d dumpable again (prctl returned %ld)", (int)tid, (long)regs.rax);
        end_injection(tid, state);
        return 0;
    default:
        return 0;
    }
}

static void record_exec(pid_t pid)
{
    char exe[SENSOR_PATH_MAX];
    if (proc_link(pid, "exe", exe, sizeof exe) != 0) {
        /* the exec'ing thread may have had another tid: look it up too */
        unsigned long former = 0;
        ptrace(PTRACE_GETEVENTMSG, pid, NULL, &former);
        struct task_memory *known = task(pid, 0);
        if ((!known || !known->exec_path) && former)
            known = task((pid_t)former, 0);
        snprintf(exe, sizeof exe, "%s", known && known->exec_path ? known->exec_path : "");
    }
    static char argv[65536];
    size_t len = 0;
    char where[64];
    snprintf(where, sizeof where, "/proc/%d/cmdline", (int)pid);
    int fd = open(where, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n;
        while (len < sizeof argv && (n = read(fd, argv + len, sizeof argv - len)) > 0)
            len += (size_t)n;
        close(fd);
    }
    if (len > 0 && argv[len - 1] == '\0')
        len--;                          /* the terminator of the last argument */
    log_exec(pid, exe, argv, len);
}

/* --- starting the app ------------------------------------------------------ */

static pid_t start_traced(char **argv)
{
    /* A process whose credentials changed on its way in (`docker exec -u root` into a
     * container whose USER is not root) is not dumpable, and neither are its children:
     * ptrace of them needs CAP_SYS_PTRACE, which Docker does not give. The child
     * inherits this flag across fork, and a process may always set its own. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
        say("pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        say("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* rule 7: the forwarded signals stay blocked until exec is one step away */
        for (size_t i = 0; i < FORWARDED_COUNT; i++)
            signal(forwarded_signals[i], SIG_DFL);
        char ready = 0;
        close(go[1]);
        while (read(go[0], &ready, 1) < 0 && errno == EINTR)
            ;
        if (ready != 'g')
            _exit(127);                 /* the parent could not attach: do not run untraced */
        close(go[0]);
        if (install_filter() != 0) {
            say("cannot install the seccomp filter: %s", strerror(errno));
            _exit(127);
        }
        sigprocmask(SIG_SETMASK, &app_signal_mask, NULL);
        execvp(argv[0], argv);
        int failed = errno;
        say("cannot run %s: %s", argv[0], strerror(failed));
        _exit(failed == ENOENT ? 127 : 126);
    }
    close(go[0]);
    main_pid = pid;                     /* a SIGTERM from now on is for the app */
    sigprocmask(SIG_SETMASK, &app_signal_mask, NULL);     /* rule 7: early ones come now */
    long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK
        | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP
        | PTRACE_O_EXITKILL;
    if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)options) != 0) {
        say("cannot trace the app (ptrace: %s); is ptrace blocked by a seccomp profile?",
            strerror(errno));
        close(go[1]);
        main_pid = 0;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    if (write(go[1], "g", 1) != 1)
        say("cannot start the app: %s", strerror(errno));
    close(go[1]);
    return pid;
}

static int is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Handles one ptrace stop and resumes the tracee. */
static void handle_stop(pid_t tid, int status)
{
    int sig = WSTOPSIG(status);
    int event = (unsigned)status >> 16;
    int inject = 0, next_syscall = 0;
    struct task_memory *state = task(tid, 0);
    int injecting = state && state->injection != INJECT_NONE;
    switch (event) {
    case PTRACE_EVENT_SECCOMP:
        next_syscall = record_syscall(tid);
        break;
    case PTRACE_EVENT_EXEC:
        record_exec(tid);
        break;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
        /* the child starts where the parent is: remember it while /proc still lets us */
        unsigned long child = 0;
        char cwd[SENSOR_PATH_MAX];
        if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &child) == 0 && child
            && base_directory(tid, AT_FDCWD_VALUE, cwd, sizeof cwd) == 0)
            remember(&task((pid_t)child, 1)->cwd, cwd);
        break;
    }
    case PTRACE_EVENT_STOP:
        if (is_stop_signal(sig)) {
            /* a group-stop: stay stopped until SIGCONT, but keep reporting */
            ptrace(PTRACE_LISTEN, tid, NULL, NULL);
            return;
        }
        break;                          /* a new child's first stop */
    case 0:
        if (sig == (SIGTRAP | 0x80)) {
            if (injecting) {
                next_syscall = continue_injection(tid, state);
                injecting = 0;
            }
        } else {
            inject = sig;               /* signal-delivery-stop: deliver it */
        }
        break;
    default:
        break;
    }
    /* while an injection is under way every stop resumes towards the next syscall stop */
    int request = next_syscall || injecting ? PTRACE_SYSCALL : PTRACE_CONT;
    ptrace(request, tid, NULL, (void *)(long)inject);
}

static int exit_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int trace_main(const char *log_dir, char **argv, int run_mode)
{
    block_forwarded_signals();
    const char *force_peek = getenv("SLIM_SENSOR_FORCE_PEEK");
    if (force_peek && force_peek[0] && strcmp(force_peek, "0") != 0) {
        vm_readv_works = 0;             /* the tests' way down rule 8's fallback */
        debug("reading the tracee's memory with PTRACE_PEEKDATA only (SLIM_SENSOR_FORCE_PEEK)");
    }
    const char *no_info = getenv("SLIM_SENSOR_NO_SYSCALL_INFO");
    if (no_info && no_info[0] && strcmp(no_info, "0") != 0)
        syscall_info_works = 0;         /* the tests' way to rule 5 as on a kernel < 5.3 */
    const char *no_mask = getenv("SLIM_SENSOR_NO_SIGMASK");
    if (no_mask && no_mask[0] && strcmp(no_mask, "0") != 0)
        sigmask_works = 0;              /* the tests' way to handlers inside rule 5's injection */
    if (log_open(log_dir, run_mode ? "run" : "trace") != 0)
        return 1;
    /* orphans of the app come to us (not PID 1 in run mode / on a host) so we reap them */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    install_handlers();
    pid_t pid = start_traced(argv);
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &app_signal_mask, NULL);
        log_flush();
        return 1;
    }
    debug("app started as pid %d", (int)pid);
    int app_status = -1;
    for (;;) {
        if (flush_due) {
            flush_due = 0;
            log_flush();
        }
        int status;
        pid_t tid = waitpid(-1, &status, __WALL);
        if (tid < 0) {
            if (errno == EINTR)
                continue;
            say("waitpid: %s", strerror(errno));   /* ECHILD: the app is gone */
            break;
        }
        if (WIFSTOPPED(status)) {
            handle_stop(tid, status);
            continue;
        }
        if (tid == pid && (WIFEXITED(status) || WIFSIGNALED(status))) {
            main_pid = 0;               /* its pid may be reused: forward nothing more */
            app_status = exit_status(status);
            break;
        }
        forget_task(tid);
        debug("reaped %d", (int)tid);
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    if (app_status < 0)
        app_status = 1;
    log_exit(app_status);
    debug("app exited with %d", app_status);
    return app_status;
}
