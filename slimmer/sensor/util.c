/* Shared helpers of the slim-sensor (see util.h). */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int g_debug;

void say(const char *fmt, ...)
{
    va_list ap;
    char line[8192];
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one write per message so lines of several processes do not interleave */
    fprintf(stderr, SENSOR_PREFIX "%s\n", line);
}

void debug(const char *fmt, ...)
{
    va_list ap;
    char line[8192];
    if (!g_debug)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, SENSOR_PREFIX "debug: %s\n", line);
}

size_t escape_bytes(const char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\\') {
            out[o++] = '\\'; out[o++] = '\\';
        } else if (c == '\t') {
            out[o++] = '\\'; out[o++] = 't';
        } else if (c == '\n') {
            out[o++] = '\\'; out[o++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\'; out[o++] = 'x';
            out[o++] = hex[c >> 4]; out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t unescape_bytes(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 >= len) {
            s[o++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == 't') s[o++] = '\t';
        else if (c == 'n') s[o++] = '\n';
        else if (c == 'x' && i + 2 < len && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            s[o++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else s[o++] = c;      /* "\\\\" and unknown escapes: the byte itself */
    }
    s[o] = '\0';
    return o;
}

void normalise_path(char *path)
{
    /* out is written behind the reader, so in-place is safe */
    char *out = path;
    const char *p = path;
    size_t o = 0;
    out[o++] = '/';
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != '/') p++;
        size_t n = (size_t)(p - start);
        if (n == 1 && start[0] == '.')
            continue;
        if (n == 2 && start[0] == '.' && start[1] == '.') {
            /* drop the last component, never above "/" */
            while (o > 1 && out[o - 1] != '/') o--;
            if (o > 1) o--;
            continue;
        }
        if (o > 1) out[o++] = '/';
        memmove(out + o, start, n);
        o += n;
    }
    out[o] = '\0';
}

void join_path(char *out, size_t out_size, const char *base, const char *rel)
{
    if (rel[0] == '/')
        snprintf(out, out_size, "%s", rel);
    else
        snprintf(out, out_size, "%s/%s", base, rel);
    normalise_path(out);
}

static size_t hash_bytes(const char *s, size_t len)
{
    size_t h = 1469598103934665603ULL;          /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void strmap_init(struct strmap *m)
{
    m->cap = 1024;
    m->used = 0;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->key_lens = calloc(m->cap, sizeof *m->key_lens);
    m->values = calloc(m->cap, sizeof *m->values);
    if (!m->keys || !m->key_lens || !m->values) {
        say("out of memory");
        exit(1);
    }
}

static size_t strmap_slot(const struct strmap *m, const char *key, size_t len)
{
    size_t i = hash_bytes(key, len) & (m->cap - 1);
    while (m->keys[i] && (m->key_lens[i] != len || memcmp(m->keys[i], key, len) != 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

char **strmap_find(struct strmap *m, const char *key, size_t len)
{
    size_t i = strmap_slot(m, key, len);
    return m->keys[i] ? &m->values[i] : NULL;
}

static void strmap_grow(struct strmap *m)
{
    struct strmap bigger = { m->cap * 2, 0, NULL, NULL, NULL };
    bigger.keys = calloc(bigger.cap, sizeof *bigger.keys);
    bigger.key_lens = calloc(bigger.cap, sizeof *bigger.key_lens);
    bigger.values = calloc(bigger.cap, sizeof *bigger.values);
    if (!bigger.keys || !bigger.key_lens || !bigger.values) {
        say("out of memory");
        exit(1);
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = strmap_slot(&bigger, m->keys[i], m->key_lens[i]);
        bigger.keys[j] = m->keys[i];
        bigger.key_lens[j] = m->key_lens[i];
        bigger.values[j] = m->values[i];
        bigger.used++;
    }
    free(m->keys); free(m->key_lens); free(m->values);
    *m = bigger;
}

int strmap_add(struct strmap *m, const char *key, size_t len, const char *value)
{
    size_t i = strmap_slot(m, key, len);
    if (m->keys[i])
        return 0;
    if ((m->used + 1) * 2 > m->cap) {
        strmap_grow(m);
        i = strmap_slot(m, key, len);
    }
    char *copy = malloc(len + 1);
    if (!copy) { say("out of memory"); exit(1); }
    memcpy(copy, key, len);
    copy[len] = '\0';
    m->keys[i] = copy;
    m->key_lens[i] = len;
    m->values[i] = value ? strdup(value) : NULL;
    m->used++;
    return 1;
}

int make_dirs(const char *path, mode_t mode)
{
    char buf[SENSOR_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST)
                return -1;
            *p = saved;
            if (!saved) break;
        }
    }
    return 0;
}
