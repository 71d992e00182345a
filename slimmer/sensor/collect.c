/* collect mode: copy the keep list from / into DEST, exactly; or, with DEST
 * "-", write the same entries as one tar stream on stdout (the slim image's
 * layer, names relative to /), so nothing is written inside the container.
 *
 * Rules, in the order they matter:
 *  1. Each listed path is one entry: a directory means the directory itself,
 *     never its contents (the keep set lists every file).
 *  2. Every parent directory is created with its original mode, owner, xattrs
 *     and mtime; a parent that is a symlink (/lib -> usr/lib) is copied as a
 *     symlink and the entry is copied to where the link really leads, so
 *     nothing is ever written through a link (an absolute target would escape
 *     DEST).
 *  3. Files with several links are hardlinked to the first copy of the same
 *     (dev, ino).
 *  4. Owner before mode before xattrs: chown clears setuid bits and file
 *     capabilities (security.capability), so they are set after it.
 *  5. Directory mtimes are set last, after all their children were written.
 *  6. A missing path is a warning (the app may have looked for it in vain);
 *     any other failure is fatal and names the path.
 *
 * The tar stream holds what a layer made from DEST through Docker's archive
 * holds (what `COPY --from=collect /.slimmer/root/ /` gives), so either way
 * builds the same image:
 *  a. ustar headers, a PAX header before an entry whose name, link target,
 *     size, owner or mtime does not fit; mtimes in whole seconds;
 *  b. of the extended attributes only security.capability (Docker's layer
 *     archives carry no other), as the PAX record SCHILY.xattr.security.capability;
 *  c. parents before children, a hardlink after the entry it names;
 *  d. sockets are left out (a layer cannot hold them); "/" itself is no entry.
 */
#include "collect.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct dir_time {
    char *dest;
    struct timespec times[2];
};

static const char *dest_root;
static int tar_fd = -1;             /* DEST "-": the tar stream goes here, DEST is not written */
static struct strmap done;          /* source paths already copied */
static struct strmap inodes;        /* "dev:ino" -> first copied source path */
static struct dir_time *dir_times;
static size_t dir_count, dir_cap;

static int fail(const char *what, const char *path)
{
    say("collect: %s %s: %s", what, path, strerror(errno));
    return -1;
}

static void dest_of(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s%s", dest_root, strcmp(path, "/") == 0 ? "" : path);
}

static int copy_xattrs(const char *src, const char *dst)
{
    char names[65536];
    ssize_t len = llistxattr(src, names, sizeof names);
    if (len < 0)
        return (errno == ENOTSUP || errno == ENODATA) ? 0 : fail("listing xattrs of", src);
    for (char *name = names; name < names + len; name += strlen(name) + 1) {
        char value[65536];
        ssize_t size = lgetxattr(src, name, value, sizeof value);
        if (size < 0)
            return fail("reading xattr of", src);
        if (lsetxattr(dst, name, value, (size_t)size, 0) != 0) {
            /* trusted.* needs CAP_SYS_ADMIN, some filesystems refuse user.* on links:
             * only a lost file capability breaks the app */
            if ((errno == EPERM || errno == ENOTSUP) && strcmp(name, "security.capability") != 0) {
                say("collect: warning: xattr %s of %s not copied: %s", name, src, strerror(errno));
                continue;
            }
            return fail("setting xattr on", dst);
        }
    }
    return 0;
}

static int copy_content(const char *src, const char *dst, const struct stat *st)
{
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return fail("opening", src);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return fail("creating", dst);
    }
    off_t left = st->st_size;
    while (left > 0) {
        ssize_t n = sendfile(out, in, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;     /* the file shrank under us */
            close(in); close(out);
            return fail("copying", src);
        }
        left -= n;
    }
    close(in);
    if (close(out) != 0)
        return fail("writing", dst);
    return 0;
}

/* Owner, mode, xattrs, then (not for directories) times; see rule 4. */
static int copy_metadata(const char *src, const char *dst, const struct stat *st)
{
    if (lchown(dst, st->st_uid, st->st_gid) != 0)
        return fail("changing owner of", dst);
    if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777) != 0)
        return fail("changing mode of", dst);
    if (copy_xattrs(src, dst) != 0)
        return -1;
    struct timespec times[2] = { st->st_atim, st->st_mtim };
    if (S_ISDIR(st->st_mode)) {
        if (dir_count == dir_cap) {
            dir_cap = dir_cap ? dir_cap * 2 : 256;
            dir_times = realloc(dir_times, dir_cap * sizeof *dir_times);
            if (!dir_times) { say("out of memory"); exit(1); }
        }
        dir_times[dir_count].dest = strdup(dst);
        memcpy(dir_times[dir_count].times, times, sizeof times);
        dir_count++;
        return 0;
    }
    if (utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW) != 0)
        return fail("setting times of", dst);
    return 0;
}

/* --- the tar stream (DEST "-") ------------------------------------------------ */

#define TAR_BLOCK 512
#define TAR_BUFFER (1 << 20)

static char *tar_buffer;
static size_t tar_used;

static int tar_flush(void)
{
    size_t done = 0;
    while (done < tar_used) {
        ssize_t n = write(tar_fd, tar_buffer + done, tar_used - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail("writing the tar stream to", "stdout");
        done += (size_t)n;
    }
    tar_used = 0;
    return 0;
}

static int tar_put(const void *data, size_t size)
{
    while (size > 0) {
        if (tar_used == TAR_BUFFER && tar_flush() != 0)
            return -1;
        size_t n = TAR_BUFFER - tar_used < size ? TAR_BUFFER - tar_used : size;
        memcpy(tar_buffer + tar_used, data, n);
        tar_used += n;
        data = (const char *)data + n;
        size -= n;
    }
    return 0;
}

static int tar_pad(unsigned long long size)
{
    static const char zeros[TAR_BLOCK];
    size_t padding = (size_t)(-size % TAR_BLOCK);
    return padding ? tar_put(zeros, padding) : 0;
}

/* Appends the PAX record "LEN KEY=VALUE\n" (LEN counts itself) to records. */
static int pax_record(char *records, size_t *used, size_t cap, const char *key,
                      const char *value, size_t value_len)
{
    size_t body = 1 + strlen(key) + 1 + value_len + 1;      /* " KEY=VALUE\n" */
    size_t len = body + 1;
    while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
        len = body + (size_t)snprintf(NULL, 0, "%zu", len);
    if (*used + len > cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int n = snprintf(records + *used, cap - *used, "%zu %s=", len, key);
    memcpy(records + *used + n, value, value_len);
    records[*used + len - 1] = '\n';
    *used += len;
    return 0;
}

/* A numeric field in octal, or -1 when it does not fit (then PAX carries it). */
static int octal(char *field, size_t width, unsigned long long value)
{
    if (width - 1 < 22 && value >> (3 * (width - 1)))
        return -1;
    snprintf(field, width, "%0*llo", (int)(width - 1), value);
    return 0;
}

static int tar_header(const char *name, const struct stat *st, char type, const char *link,
                      unsigned long long size, const char *cap, size_t cap_len)
{
    char header[TAR_BLOCK], records[4 * SENSOR_PATH_MAX + 2048], number[32];
    size_t pax = 0;
    int ok = 0;
    memset(header, 0, sizeof header);
    if (strlen(name) >= 100)
        ok |= pax_record(records, &pax, sizeof records, "path", name, strlen(name));
    else
        memcpy(header, name, strlen(name));
    if (strlen(link) >= 100)
        ok |= pax_record(records, &pax, sizeof records, "linkpath", link, strlen(link));
    else
        memcpy(header + 157, link, strlen(link));
    octal(header + 100, 8, st->st_mode & 07777);
    struct { size_t at, width; unsigned long long value; const char *key; } numbers[] = {
        { 108, 8, st->st_uid, "uid" }, { 116, 8, st->st_gid, "gid" },
        { 124, 12, size, "size" },
        { 136, 12, st->st_mtim.tv_sec < 0 ? 0 : (unsigned long long)st->st_mtim.tv_sec, "mtime" },
    };
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        if (octal(header + numbers[i].at, numbers[i].width, numbers[i].value) != 0) {
            int n = snprintf(number, sizeof number, "%llu", numbers[i].value);
            ok |= pax_record(records, &pax, sizeof records, numbers[i].key, number, (size_t)n);
        }
    if (cap)
        ok |= pax_record(records, &pax, sizeof records, "SCHILY.xattr.security.capability",
                         cap, cap_len);
    if (ok != 0)
        return fail("describing", name);
    header[156] = type;
    memcpy(header + 257, "ustar\0" "00", 8);
    if (type == '3' || type == '4') {
        octal(header + 329, 8, major(st->st_rdev));
        octal(header + 337, 8, minor(st->st_rdev));
    }
    if (pax > 0) {
        char pax_header[TAR_BLOCK];
        struct stat pax_st = { .st_mode = 0644, .st_mtim = st->st_mtim };
        memset(pax_header, 0, sizeof pax_header);
        memcpy(pax_header, "././@PaxHeader", 14);
        octal(pax_header + 100, 8, pax_st.st_mode);
        octal(pax_header + 108, 8, 0);
        octal(pax_header + 116, 8, 0);
        octal(pax_header + 124, 12, pax);
        octal(pax_header + 136, 12, 0);
        pax_header[156] = 'x';
        memcpy(pax_header + 257, "ustar\0" "00", 8);
        memset(pax_header + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < TAR_BLOCK; i++)
            sum += (unsigned char)pax_header[i];
        snprintf(pax_header + 148, 8, "%06o", sum);
        if (tar_put(pax_header, TAR_BLOCK) != 0 || tar_put(records, pax) != 0 || tar_pad(pax) != 0)
            return -1;
    }
    memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += (unsigned char)header[i];
    snprintf(header + 148, 8, "%06o", sum);
    return tar_put(header, TAR_BLOCK);
}

/* The content of a regular file: small files through the buffer, large ones
 * with sendfile straight to the stream. */
static int tar_content(const char *path, unsigned long long size)
{
    int in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return fail("opening", path);
    unsigned long long left = size;
    if (size > TAR_BUFFER - tar_used && tar_flush() != 0) {
        close(in);
        return -1;
    }
    while (left > 0) {
        ssize_t n;
        if (left <= TAR_BUFFER - tar_used) {
            n = read(in, tar_buffer + tar_used, (size_t)left);
            if (n > 0)
                tar_used += (size_t)n;
        } else {
            n = sendfile(tar_fd, in, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;     /* the file shrank under us */
            close(in);
            return fail("copying", path);
        }
        left -= (unsigned long long)n;
    }
    close(in);
    return tar_pad(size);
}

/* The entry as a tar member (rules a-d at the top). */
static int tar_entry(const char *path, const struct stat *st)
{
    if (strcmp(path, "/") == 0 || S_ISSOCK(st->st_mode))
        return 0;
    char name[2 * SENSOR_PATH_MAX + 2], link[SENSOR_PATH_MAX] = "";
    snprintf(name, sizeof name, "%s%s", path + 1, S_ISDIR(st->st_mode) ? "/" : "");
    char cap[1024];
    ssize_t cap_len = -1;
    if (!S_ISLNK(st->st_mode)) {
        cap_len = lgetxattr(path, "security.capability", cap, sizeof cap);
        if (cap_len < 0 && errno != ENODATA && errno != ENOTSUP)
            return fail("reading xattr of", path);
    }
    const char *capability = cap_len >= 0 ? cap : NULL;
    size_t capability_len = cap_len >= 0 ? (size_t)cap_len : 0;
    if (S_ISDIR(st->st_mode))
        return tar_header(name, st, '5', "", 0, capability, capability_len);
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n < 0)
            return fail("reading link", path);
        link[n] = '\0';
        return tar_header(name, st, '2', link, 0, NULL, 0);
    }
    if (S_ISREG(st->st_mode)) {
        if (st->st_nlink > 1) {
            char key[64];
            int n = snprintf(key, sizeof key, "%lu:%lu", (unsigned long)st->st_dev,
                             (unsigned long)st->st_ino);
            char **first = strmap_find(&inodes, key, (size_t)n);
            if (first)
                return tar_header(name, st, '1', *first + 1, 0, capability, capability_len);
            strmap_add(&inodes, key, (size_t)n, path);
        }
        if (tar_header(name, st, '0', "", (unsigned long long)st->st_size, capability,
                       capability_len) != 0)
            return -1;
        return tar_content(path, (unsigned long long)st->st_size);
    }
    char type = S_ISCHR(st->st_mode) ? '3' : S_ISBLK(st->st_mode) ? '4' : '6';
    return tar_header(name, st, type, "", 0, capability, capability_len);
}

static int copy_path(const char *path);

/* Copies the entry itself; its parent exists in DEST already. */
static int copy_entry(const char *path, const struct stat *st)
{
    char dst[2 * SENSOR_PATH_MAX];
    dest_of(path, dst, sizeof dst);
    if (S_ISDIR(st->st_mode)) {
        if (mkdir(dst, 0700) != 0 && errno != EEXIST)
            return fail("creating directory", dst);
    } else if (S_ISREG(st->st_mode)) {
        if (st->st_nlink > 1) {
            char key[64];
            int n = snprintf(key, sizeof key, "%lu:%lu", (unsigned long)st->st_dev,
                             (unsigned long)st->st_ino);
            char **first = strmap_find(&inodes, key, (size_t)n);
            if (first) {
                char first_dst[2 * SENSOR_PATH_MAX];
                dest_of(*first, first_dst, sizeof first_dst);
                if (link(first_dst, dst) != 0)
                    return fail("hardlinking", dst);
                return 0;               /* shares the inode: metadata is set already */
            }
            strmap_add(&inodes, key, (size_t)n, path);
        }
        if (copy_content(path, dst, st) != 0)
            return -1;
    } else if (S_ISLNK(st->st_mode)) {
        char target[SENSOR_PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
            return fail("reading link", path);
        target[n] = '\0';
        if (symlink(target, dst) != 0)
            return fail("creating symlink", dst);
    } else {
        /* fifo, character and block devices, sockets */
        if (mknod(dst, st->st_mode & S_IFMT, st->st_rdev) != 0)
            return fail("creating node", dst);
    }
    return copy_metadata(path, dst, st);
}

/* Ensures the parents of path exist in DEST; returns the path to copy, which
 * differs from path when a parent is a symlink (rule 2), or NULL. */
static int copy_parents(const char *path, char *real, size_t real_size)
{
    snprintf(real, real_size, "%s", path);
    for (char *slash = strchr(real + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        struct stat st;
        if (lstat(real, &st) != 0) {
            *slash = '/';
            return -2;                  /* missing: reported by the caller */
        }
        if (copy_path(real) != 0) {
            *slash = '/';
            return -1;
        }
        if (S_ISLNK(st.st_mode)) {
            char resolved[PATH_MAX], rest[SENSOR_PATH_MAX];
            if (!realpath(real, resolved)) {
                *slash = '/';
                return -2;              /* dangling: nothing below it exists */
            }
            snprintf(rest, sizeof rest, "%s", slash + 1);
            snprintf(real, real_size, "%s/%s", strcmp(resolved, "/") ? resolved : "", rest);
            return copy_parents(strdup(real), real, real_size);
        }
        *slash = '/';
    }
    return 0;
}

static int copy_path(const char *path)
{
    if (strmap_find(&done, path, strlen(path)))
        return 0;
    char real[2 * SENSOR_PATH_MAX];
    int parents = copy_parents(path, real, sizeof real);
    if (parents == -1)
        return -1;
    struct stat st;
    if (parents == -2 || lstat(real, &st) != 0) {
        if (parents == -2 || errno == ENOENT || errno == ENOTDIR) {
            say("collect: warning: %s does not exist, skipped", path);
            strmap_add(&done, path, strlen(path), NULL);
            return 0;
        }
        return fail("reading", path);
    }
    if (strcmp(real, path) != 0 && strmap_find(&done, real, strlen(real))) {
        strmap_add(&done, path, strlen(path), NULL);
        return 0;
    }
    if ((tar_fd >= 0 ? tar_entry(real, &st) : copy_entry(real, &st)) != 0)
        return -1;
    strmap_add(&done, path, strlen(path), NULL);
    strmap_add(&done, real, strlen(real), NULL);
    return 0;
}

/* --- the list ------------------------------------------------------------------ */

/* The keep list, a line at a time, read with read(2): a list on stdin may arrive
 * while slimmer's keep stage still computes it (the build's layer started early),
 * so before a read that would wait, the tar stream written so far is flushed:
 * the daemon applies the layer as the paths are named, not all at the end. */
struct list_reader {
    int fd;
    char *buf;
    size_t start, end, cap;
    int eof;
};

/* The next line (its newline replaced by NUL) in *line; its length, -1 at the end,
 * -2 on a read or write error (reported). */
static ssize_t next_line(struct list_reader *r, char **line)
{
    for (;;) {
        char *newline = r->start < r->end ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (newline || (r->eof && r->start < r->end)) {
            char *at = r->buf + r->start;
            size_t len = newline ? (size_t)(newline - at) : r->end - r->start;
            at[len] = '\0';            /* the buffer always has room for it */
            r->start += len + (newline ? 1 : 0);
            *line = at;
            return (ssize_t)len;
        }
        if (r->eof)
            return -1;
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        if (r->end + 1 >= r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 65536;
            char *grown = realloc(r->buf, cap);
            if (!grown) {
                say("out of memory");
                return -2;
            }
            r->buf = grown;
            r->cap = cap;
        }
        if (tar_fd >= 0 && tar_used > 0) {
            struct pollfd ready = {.fd = r->fd, .events = POLLIN};
            if (poll(&ready, 1, 0) == 0 && tar_flush() != 0)
                return -2;
        }
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - 1 - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            say("collect: cannot read the list: %s", strerror(errno));
            return -2;
        }
        if (n == 0)
            r->eof = 1;
        r->end += (size_t)n;
    }
}

int collect_main(const char *list, const char *dest)
{
    FILE *in = strcmp(list, "-") == 0 ? stdin : fopen(list, "r");
    if (!in) {
        say("collect: cannot open list %s: %s", list, strerror(errno));
        return 1;
    }
    char root[SENSOR_PATH_MAX];
    snprintf(root, sizeof root, "%s", dest);
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        root[--n] = '\0';
    dest_root = root;
    if (strcmp(dest, "-") == 0) {
        tar_fd = STDOUT_FILENO;
        tar_buffer = malloc(TAR_BUFFER);
        if (!tar_buffer) {
            say("out of memory");
            return 1;
        }
    } else if (make_dirs(dest_root, 0755) != 0) {
        say("collect: cannot create %s: %s", dest_root, strerror(errno));
        return 1;
    }
    strmap_init(&done);
    strmap_init(&inodes);
    struct list_reader reader = {.fd = fileno(in)};
    char *line;
    ssize_t len;
    int status = 0;
    while ((len = next_line(&reader, &line)) >= 0) {
        while (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        len = (ssize_t)unescape_bytes(line, (size_t)len);
        if (len == 0)
            continue;
        if (line[0] != '/') {
            say("collect: warning: %s is not an absolute path, skipped", line);
            continue;
        }
        normalise_path(line);
        if (copy_path(line) != 0) {
            status = 1;
            break;
        }
    }
    if (len == -2)
        status = 1;
    free(reader.buf);
    if (in != stdin)
        fclose(in);
    if (tar_fd >= 0) {
        static const char end[2 * TAR_BLOCK];
        if (status == 0 && (tar_put(end, sizeof end) != 0 || tar_flush() != 0))
            status = 1;
        return status;
    }
    for (size_t i = 0; i < dir_count; i++)
        if (utimensat(AT_FDCWD, dir_times[i].dest, dir_times[i].times, AT_SYMLINK_NOFOLLOW) != 0
            && status == 0)
            status = fail("setting times of", dir_times[i].dest) ? 1 : 0;
    return status;
}
