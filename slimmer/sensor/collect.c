/* collect mode: copy the keep list from / into DEST, exactly.
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
 */
#include "collect.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
    if (copy_entry(real, &st) != 0)
        return -1;
    strmap_add(&done, path, strlen(path), NULL);
    strmap_add(&done, real, strlen(real), NULL);
    return 0;
}

int collect_main(const char *list, const char *dest)
{
    FILE *in = fopen(list, "r");
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
    if (make_dirs(dest_root, 0755) != 0) {
        say("collect: cannot create %s: %s", dest_root, strerror(errno));
        return 1;
    }
    strmap_init(&done);
    strmap_init(&inodes);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int status = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
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
    free(line);
    fclose(in);
    for (size_t i = 0; i < dir_count; i++)
        if (utimensat(AT_FDCWD, dir_times[i].dest, dir_times[i].times, AT_SYMLINK_NOFOLLOW) != 0
            && status == 0)
            status = fail("setting times of", dir_times[i].dest) ? 1 : 0;
    return status;
}
