/* The trapped syscalls and the seccomp-bpf filter.
 *
 * Why the filter is shaped the way it is:
 *  1. Only path-taking syscalls return SECCOMP_RET_TRACE; everything else is
 *     ALLOWed inside the kernel, so an app that does not touch files runs at
 *     full speed (the getppid benchmark).
 *  2. The syscall number is found with a binary search over the sorted trapped
 *     numbers (about 8 BPF instructions) instead of a linear scan of ~70.
 *  3. newfstatat/statx with a NULL path are ALLOWed: they fail with EFAULT, or
 *     (AT_EMPTY_PATH, Linux 6.11+) stat the fd itself, whose file was recorded
 *     when it was opened. AT_EMPTY_PATH alone is no reason to let a call through:
 *     with a non-empty path it is an ordinary lookup, and BPF cannot read the
 *     string. So glibc's fstat(), newfstatat(fd, "", AT_EMPTY_PATH), stops
 *     once; the tracer sees the empty path and resumes it at once.
 *  4. The setuid/setgid family and capset are trapped too, though they take
 *     no path: they make a process non-dumpable, which would hide its memory
 *     and /proc entries from the sensor (see trace.c, rule 5).
 *  5. Non-x86_64 ABIs (int 0x80, x32) are allowed untraced: their numbers differ.
 */
#include "syscalls.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#define SYS_getxattrat 464
#define SYS_listxattrat 465
#define SYS_removexattrat 466
#endif

#define R ACCESS_READ
#define W ACCESS_WRITE
#define O ACCESS_OPEN_FLAGS
#define NONE { -1, -1, R }
#define CWD(p, a) { -1, p, a }
#define AT(d, p, a) { d, p, a }

static const struct syscall_spec table[] = {
    { SYS_open, "open", { CWD(0, O), NONE }, 1, -1, 0 },
    { SYS_openat, "openat", { AT(0, 1, O), NONE }, 2, -1, 0 },
    { SYS_openat2, "openat2", { AT(0, 1, O), NONE }, -2, -1, 0 },
    { SYS_creat, "creat", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_stat, "stat", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_lstat, "lstat", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_newfstatat, "newfstatat", { AT(0, 1, R), NONE }, -1, 3, 0 },
    { SYS_statx, "statx", { AT(0, 1, R), NONE }, -1, 2, 0 },
    { SYS_statfs, "statfs", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_access, "access", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_faccessat, "faccessat", { AT(0, 1, R), NONE }, -1, -1, 0 },
    { SYS_faccessat2, "faccessat2", { AT(0, 1, R), NONE }, -1, 3, 0 },
    { SYS_readlink, "readlink", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_readlinkat, "readlinkat", { AT(0, 1, R), NONE }, -1, -1, 0 },
    { SYS_execve, "execve", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_execveat, "execveat", { AT(0, 1, R), NONE }, -1, 4, 0 },
    { SYS_chdir, "chdir", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_chroot, "chroot", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_mkdir, "mkdir", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_mkdirat, "mkdirat", { AT(0, 1, W), NONE }, -1, -1, 0 },
    { SYS_unlink, "unlink", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_unlinkat, "unlinkat", { AT(0, 1, W), NONE }, -1, -1, 0 },
    { SYS_rmdir, "rmdir", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_rename, "rename", { CWD(0, W), CWD(1, W) }, -1, -1, 0 },
    { SYS_renameat, "renameat", { AT(0, 1, W), AT(2, 3, W) }, -1, -1, 0 },
    { SYS_renameat2, "renameat2", { AT(0, 1, W), AT(2, 3, W) }, -1, -1, 0 },
    { SYS_link, "link", { CWD(0, R), CWD(1, W) }, -1, -1, 0 },
    { SYS_linkat, "linkat", { AT(0, 1, R), AT(2, 3, W) }, -1, 4, 0 },
    /* a symlink's target string is not a path the app touched */
    { SYS_symlink, "symlink", { CWD(1, W), NONE }, -1, -1, 0 },
    { SYS_symlinkat, "symlinkat", { AT(1, 2, W), NONE }, -1, -1, 0 },
    { SYS_truncate, "truncate", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_chmod, "chmod", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_fchmodat, "fchmodat", { AT(0, 1, W), NONE }, -1, -1, 0 },
    { SYS_fchmodat2, "fchmodat2", { AT(0, 1, W), NONE }, -1, 3, 0 },
    { SYS_chown, "chown", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_lchown, "lchown", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_fchownat, "fchownat", { AT(0, 1, W), NONE }, -1, 4, 0 },
    { SYS_utime, "utime", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_utimes, "utimes", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_utimensat, "utimensat", { AT(0, 1, W), NONE }, -1, -1, 0 },
    { SYS_futimesat, "futimesat", { AT(0, 1, W), NONE }, -1, -1, 0 },
    { SYS_getxattr, "getxattr", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_lgetxattr, "lgetxattr", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_setxattr, "setxattr", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_lsetxattr, "lsetxattr", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_listxattr, "listxattr", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_llistxattr, "llistxattr", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_removexattr, "removexattr", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_lremovexattr, "lremovexattr", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_getxattrat, "getxattrat", { AT(0, 1, R), NONE }, -1, 2, 0 },
    { SYS_setxattrat, "setxattrat", { AT(0, 1, W), NONE }, -1, 2, 0 },
    { SYS_listxattrat, "listxattrat", { AT(0, 1, R), NONE }, -1, 2, 0 },
    { SYS_removexattrat, "removexattrat", { AT(0, 1, W), NONE }, -1, 2, 0 },
    { SYS_mknod, "mknod", { CWD(0, W), NONE }, -1, -1, 0 },
    { SYS_mknodat, "mknodat", { AT(0, 1, W), NONE }, -1, -1, 0 },
    { SYS_name_to_handle_at, "name_to_handle_at", { AT(0, 1, R), NONE }, -1, 4, 0 },
    { SYS_inotify_add_watch, "inotify_add_watch", { CWD(1, R), NONE }, -1, -1, 0 },
    { SYS_open_tree, "open_tree", { AT(0, 1, R), NONE }, -1, -1, 0 },
    { SYS_uselib, "uselib", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_acct, "acct", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_swapon, "swapon", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_swapoff, "swapoff", { CWD(0, R), NONE }, -1, -1, 0 },
    { SYS_setuid, "setuid", { NONE, NONE }, -1, -1, 1 },
    { SYS_setgid, "setgid", { NONE, NONE }, -1, -1, 1 },
    { SYS_setreuid, "setreuid", { NONE, NONE }, -1, -1, 1 },
    { SYS_setregid, "setregid", { NONE, NONE }, -1, -1, 1 },
    { SYS_setresuid, "setresuid", { NONE, NONE }, -1, -1, 1 },
    { SYS_setresgid, "setresgid", { NONE, NONE }, -1, -1, 1 },
    { SYS_setfsuid, "setfsuid", { NONE, NONE }, -1, -1, 1 },
    { SYS_setfsgid, "setfsgid", { NONE, NONE }, -1, -1, 1 },
    { SYS_capset, "capset", { NONE, NONE }, -1, -1, 1 },
};

#define TABLE_SIZE (sizeof table / sizeof table[0])
#define MAX_NR 512

static const struct syscall_spec *by_nr[MAX_NR];
static int by_nr_ready;

const struct syscall_spec *syscall_spec(long nr)
{
    if (!by_nr_ready) {
        for (size_t i = 0; i < TABLE_SIZE; i++)
            by_nr[table[i].nr] = &table[i];
        by_nr_ready = 1;
    }
    return nr >= 0 && nr < MAX_NR ? by_nr[nr] : NULL;
}

/* --- the filter ------------------------------------------------------------ */

#define LEAF_MAX 4
#define PROGRAM_MAX 512

static struct sock_filter program[PROGRAM_MAX];
static unsigned short length;

static void emit(unsigned short code, unsigned char jt, unsigned char jf, unsigned int k)
{
    if (length >= PROGRAM_MAX) {
        say("seccomp program too long");
        exit(1);
    }
    program[length++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

static unsigned tree_size(size_t n)
{
    if (n <= LEAF_MAX)
        return (unsigned)n + 2;
    size_t half = n / 2;
    return 1 + tree_size(half) + tree_size(n - half);
}

/* Emits a search over sorted[0..n): TRACE when the number is there, ALLOW if not. */
static void emit_tree(const unsigned *sorted, size_t n)
{
    if (n <= LEAF_MAX) {
        for (size_t i = 0; i < n; i++)      /* jt jumps over the rest and the ALLOW */
            emit(BPF_JMP | BPF_JEQ | BPF_K, (unsigned char)(n - i), 0, sorted[i]);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_TRACE);
        return;
    }
    size_t half = n / 2;
    unsigned left = tree_size(half);
    if (left > 255) {
        say("seccomp tree too deep");
        exit(1);
    }
    emit(BPF_JMP | BPF_JGE | BPF_K, (unsigned char)left, 0, sorted[half]);
    emit_tree(sorted, half);
    emit_tree(sorted + half, n - half);
}

static int by_value(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

#define LOAD(field) emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, field))
/* args are 64-bit, little-endian: the low word first */
#define LOAD_ARG_LOW(i) emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, args[i]))
#define LOAD_ARG_HIGH(i) emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, args[i]) + 4)

static void build_program(void)
{
    unsigned sorted[TABLE_SIZE];
    size_t n = 0;
    for (size_t i = 0; i < TABLE_SIZE; i++)
        if (table[i].nr != SYS_newfstatat && table[i].nr != SYS_statx)
            sorted[n++] = (unsigned)table[i].nr;
    qsort(sorted, n, sizeof sorted[0], by_value);

    length = 0;
    LOAD(arch);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    LOAD(nr);
    emit(BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000);        /* x32 */
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    /* newfstatat/statx: TRACE unless the path pointer (argument 1, both words) is NULL;
     * see point 3 above. Flags do not matter. */
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SYS_newfstatat);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 6, SYS_statx);
    LOAD_ARG_LOW(1);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0);
    LOAD_ARG_HIGH(1);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_TRACE);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    emit_tree(sorted, n);
}

int install_filter(void)
{
    build_program();
    struct sock_fprog prog = { .len = length, .filter = program };
    /* Without CAP_SYS_ADMIN (Docker's default) the kernel demands no_new_privs.
     * Try without it first so a privileged run keeps setuid programs working. */
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
        return 0;
    if (errno != EACCES)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}
