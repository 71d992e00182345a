/* Shared helpers of the slim-sensor: diagnostics, path escaping, a string
 * hash set and map, lexical path normalisation. See main.c for usage. */
#ifndef SLIM_SENSOR_UTIL_H
#define SLIM_SENSOR_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#define SENSOR_PREFIX "[slim-sensor] "
#define SENSOR_PATH_MAX 4096
/* a dirfd's or cwd's path joined with a relative path, each up to PATH_MAX */
#define SENSOR_ABSOLUTE_MAX (2 * SENSOR_PATH_MAX + 2)

extern int g_debug;

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Escape bytes for the log / keep list: '\\' -> "\\\\", TAB -> "\\t",
 * LF -> "\\n", other bytes < 0x20 and 0x7f -> "\\xhh"; out needs 4*len+1 bytes.
 * Returns the escaped length. */
size_t escape_bytes(const char *in, size_t len, char *out);
/* Inverse of escape_bytes, in place; returns the new length. */
size_t unescape_bytes(char *s, size_t len);

/* Lexically normalise an absolute path in place: collapse "//", drop ".",
 * apply ".." (never above "/"), drop a trailing "/". Symlinks are NOT resolved:
 * slimmer resolves them against the image, where they matter. */
void normalise_path(char *path);

/* Join base (absolute) and rel into out (SENSOR_ABSOLUTE_MAX), then normalise. */
void join_path(char *out, size_t out_size, const char *base, const char *rel);

/* An open-addressing set of byte strings, optionally with a string value. */
struct strmap {
    size_t cap, used;
    char **keys;
    size_t *key_lens;
    char **values;
};
void strmap_init(struct strmap *m);
/* Returns the slot's value pointer when the key exists, NULL otherwise. */
char **strmap_find(struct strmap *m, const char *key, size_t len);
/* Adds key (copied) -> value (copied, may be NULL); returns 1 if added, 0 if present. */
int strmap_add(struct strmap *m, const char *key, size_t len, const char *value);

/* mkdir -p with the given mode for every created directory. */
int make_dirs(const char *path, mode_t mode);

#endif
