/*
 * Remote directory streams: opendir/fdopendir of a remote directory return a DIR of the layer's
 * own, filled from one READDIR answer; readdir, closedir, dirfd, rewinddir, telldir and seekdir
 * recognise it by the registry and hand every other DIR to libc.
 */
#ifndef KM_DIRS_H
#define KM_DIRS_H

#include <dirent.h>

/** A stream for the remote directory `abs`; NULL with errno set. `fd` (or -1) becomes dirfd. */
DIR *km_dir_open(const char *abs, int fd);
/** 1 if `d` is one of the layer's streams. */
int km_dir_is_ours(DIR *d);
struct dirent64 *km_dir_read(DIR *d);
int km_dir_close(DIR *d);
int km_dir_fd(DIR *d);
long km_dir_tell(DIR *d);
void km_dir_seek(DIR *d, long pos);
/** scandir over a remote directory, with libc's semantics. */
int km_dir_scan(const char *abs, struct dirent64 ***list, int (*sel)(const struct dirent64 *),
                int (*cmp)(const struct dirent64 **, const struct dirent64 **));

#endif
