/*
 * Remote files: stat, open (a sealed memfd holding the contents), access, readlink, realpath, and
 * the stat of fds that stand for remote files and directories. Every function takes a normalised
 * absolute path that the rules (paths.h) said is remote, and returns 0 / a result, or -errno.
 */
#ifndef KM_FILES_H
#define KM_FILES_H

#include <sys/stat.h>
#include <sys/types.h>

#include "generated/layer_protocol.h"

struct statx;

int km_remote_stat(const char *abs, int follow, struct km_msg_stat_ok *st);
/** Opens for reading; returns the new fd or -errno. `flags` are the program's open(2) flags. */
int km_remote_open(const char *abs, int flags);
int km_remote_access(const char *abs, int mode);
/** Like readlink(2): the target's length (not NUL-terminated, cut at `size`), or -errno. */
ssize_t km_remote_readlink(const char *abs, char *buf, size_t size);
/** realpath(3) inside the target: follows remote symlinks; `out` has PATH_MAX bytes. */
int km_remote_realpath(const char *abs, char *out);

/** 1 when the program's open flags ask for writing (then the open stays on the user's machine). */
int km_open_writes(int flags);

/** If `fd` stands for a remote file or directory, its remote stat. 1 if so, else 0. */
int km_fd_remote_stat(int fd, struct km_msg_stat_ok *st);

void km_fill_stat(const struct km_msg_stat_ok *r, struct stat *st);
void km_fill_statx(const struct km_msg_stat_ok *r, struct statx *stx);

/** A placeholder fd for a remote directory (readdir, fstat, *at calls). -errno on failure. */
int km_remote_dir_fd(const char *abs, const struct km_msg_stat_ok *st, int cloexec);

#endif
