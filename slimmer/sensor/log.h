/* The sensor's trace log, format version 1 (parsed by slimmer/sensor.py):
 *   #slimmer-sensor-log<TAB>1
 *   P<TAB>syscall<TAB>r|w<TAB>path          once per unique (path, syscall, r|w)
 *   X<TAB>pid<TAB>exe<TAB>argv0<TAB>argv1...  each successful exec
 *   E<TAB>status                             the app's exit status, at the end
 * Paths and argv are escaped with escape_bytes(). */
#ifndef SLIM_SENSOR_LOG_H
#define SLIM_SENSOR_LOG_H

#include <stddef.h>
#include <sys/types.h>

/* Opens DIR/<kind>.<pid>.log, creating DIR with mode 01777. */
int log_open(const char *dir, const char *kind);
void log_path(const char *syscall, int write, const char *path);
/* argv is NUL-separated, as in /proc/PID/cmdline. */
void log_exec(pid_t pid, const char *exe, const char *argv, size_t argv_len);
void log_exit(int status);
/* Writes buffered records; called at least every second and at exit. */
void log_flush(void);

#endif
