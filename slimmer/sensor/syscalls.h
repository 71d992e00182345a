/* The path-taking syscalls the sensor traps, and the seccomp filter that traps
 * exactly them (x86_64). */
#ifndef SLIM_SENSOR_SYSCALLS_H
#define SLIM_SENSOR_SYSCALLS_H

enum access_kind { ACCESS_READ, ACCESS_WRITE, ACCESS_OPEN_FLAGS };

struct path_arg {
    signed char dirfd;      /* argument index of the directory fd, -1: relative to cwd */
    signed char path;       /* argument index of the path, -1: unused slot */
    char access;            /* enum access_kind */
};

struct syscall_spec {
    int nr;
    const char *name;
    struct path_arg paths[2];
    signed char open_flags;   /* argument index of O_* flags; -2: struct open_how (openat2) */
    signed char at_flags;     /* argument index of AT_* flags (AT_EMPTY_PATH), -1: none */
    char changes_creds;       /* setuid family: the kernel makes the process non-dumpable */
};

/* NULL when nr is not trapped. */
const struct syscall_spec *syscall_spec(long nr);
/* Installs the filter in the calling process (called in the child before exec). */
int install_filter(void);

#endif
