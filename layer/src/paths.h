/*
 * Path rules: which paths are read from the target. A path is remote only when it is absolute
 * (after joining it to a dirfd that stands for a remote directory) and the rules say so, in this
 * order: not_found (ENOENT), local, remote, else local. Relative paths against the working
 * directory stay local: the working directory is the user's.
 */
#ifndef KM_PATHS_H
#define KM_PATHS_H

#include <limits.h>
#include <stddef.h>

enum km_where { KM_LOCAL = 0, KM_REMOTE = 1, KM_NOT_FOUND = 2 };

/**
 * Lexically normalises an absolute path into `out` (PATH_MAX bytes): no `//`, `.` or `..`
 * components, no trailing slash. 0, or -ENAMETOOLONG, or -EINVAL for a relative path.
 */
int km_path_normalize(const char *in, char *out, size_t out_len);

/** The rules' answer for a normalised absolute path (not gated by the fs flag). */
enum km_where km_path_rules(const char *abs);

/**
 * Where `path` (relative to `dirfd`, AT_FDCWD or a remote-directory fd) lives, with the fs
 * feature and mode taken into account. For KM_REMOTE and KM_NOT_FOUND `out` holds the normalised
 * absolute path. A remote path that is too long sets *err to ENAMETOOLONG and returns KM_NOT_FOUND.
 */
enum km_where km_path_where(int dirfd, const char *path, char out[PATH_MAX], int *err);

#endif
