/*
 * The real libc functions, resolved once from one table with dlsym(RTLD_NEXT). A lookup that
 * lands in the layer itself is refused (the function then fails with ENOSYS), as proxychains-ng
 * does: calling it would recurse forever.
 */
#ifndef KM_REAL_H
#define KM_REAL_H

#include <dirent.h>
#include <netdb.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

struct statx;
struct mmsghdr;

/* X(return type, name, (parameter types)) for every function the layer hooks or calls. */
#define KM_REAL_FUNCS(X)                                                                        \
  X(int, open, (const char *, int, ...))                                                        \
  X(int, open64, (const char *, int, ...))                                                      \
  X(int, openat, (int, const char *, int, ...))                                                 \
  X(int, openat64, (int, const char *, int, ...))                                               \
  X(int, __open_2, (const char *, int))                                                         \
  X(int, __open64_2, (const char *, int))                                                       \
  X(int, __openat_2, (int, const char *, int))                                                  \
  X(int, __openat64_2, (int, const char *, int))                                                \
  X(FILE *, fopen, (const char *, const char *))                                                \
  X(FILE *, fopen64, (const char *, const char *))                                              \
  X(FILE *, freopen, (const char *, const char *, FILE *))                                      \
  X(FILE *, freopen64, (const char *, const char *, FILE *))                                    \
  X(FILE *, fdopen, (int, const char *))                                                        \
  X(int, fclose, (FILE *))                                                                      \
  X(int, stat, (const char *, struct stat *))                                                   \
  X(int, stat64, (const char *, struct stat64 *))                                               \
  X(int, lstat, (const char *, struct stat *))                                                  \
  X(int, lstat64, (const char *, struct stat64 *))                                              \
  X(int, fstat, (int, struct stat *))                                                           \
  X(int, fstat64, (int, struct stat64 *))                                                       \
  X(int, fstatat, (int, const char *, struct stat *, int))                                      \
  X(int, fstatat64, (int, const char *, struct stat64 *, int))                                  \
  X(int, __xstat, (int, const char *, struct stat *))                                           \
  X(int, __xstat64, (int, const char *, struct stat64 *))                                       \
  X(int, __lxstat, (int, const char *, struct stat *))                                          \
  X(int, __lxstat64, (int, const char *, struct stat64 *))                                      \
  X(int, __fxstat, (int, int, struct stat *))                                                   \
  X(int, __fxstat64, (int, int, struct stat64 *))                                               \
  X(int, __fxstatat, (int, int, const char *, struct stat *, int))                              \
  X(int, __fxstatat64, (int, int, const char *, struct stat64 *, int))                          \
  X(int, statx, (int, const char *, int, unsigned int, struct statx *))                         \
  X(long, syscall, (long, ...))                                                                 \
  X(int, access, (const char *, int))                                                           \
  X(int, faccessat, (int, const char *, int, int))                                              \
  X(int, euidaccess, (const char *, int))                                                       \
  X(int, eaccess, (const char *, int))                                                          \
  X(ssize_t, readlink, (const char *, char *, size_t))                                          \
  X(ssize_t, readlinkat, (int, const char *, char *, size_t))                                   \
  X(ssize_t, __readlink_chk, (const char *, char *, size_t, size_t))                            \
  X(ssize_t, __readlinkat_chk, (int, const char *, char *, size_t, size_t))                     \
  X(char *, realpath, (const char *, char *))                                                   \
  X(char *, __realpath_chk, (const char *, char *, size_t))                                     \
  X(char *, canonicalize_file_name, (const char *))                                             \
  X(DIR *, opendir, (const char *))                                                             \
  X(DIR *, fdopendir, (int))                                                                    \
  X(struct dirent *, readdir, (DIR *))                                                          \
  X(struct dirent64 *, readdir64, (DIR *))                                                      \
  X(int, readdir_r, (DIR *, struct dirent *, struct dirent **))                                 \
  X(int, readdir64_r, (DIR *, struct dirent64 *, struct dirent64 **))                           \
  X(int, closedir, (DIR *))                                                                     \
  X(int, dirfd, (DIR *))                                                                        \
  X(void, rewinddir, (DIR *))                                                                   \
  X(long, telldir, (DIR *))                                                                     \
  X(void, seekdir, (DIR *, long))                                                               \
  X(int, scandir, (const char *, struct dirent ***, int (*)(const struct dirent *),             \
                   int (*)(const struct dirent **, const struct dirent **)))                    \
  X(int, scandir64, (const char *, struct dirent64 ***, int (*)(const struct dirent64 *),       \
                     int (*)(const struct dirent64 **, const struct dirent64 **)))              \
  X(int, close, (int))                                                                          \
  X(int, close_range, (unsigned int, unsigned int, int))                                        \
  X(void, closefrom, (int))                                                                     \
  X(int, dup, (int))                                                                            \
  X(int, dup2, (int, int))                                                                      \
  X(int, dup3, (int, int, int))                                                                 \
  X(int, fcntl, (int, int, ...))                                                                \
  X(int, fcntl64, (int, int, ...))                                                              \
  X(int, getaddrinfo, (const char *, const char *, const struct addrinfo *, struct addrinfo **)) \
  X(void, freeaddrinfo, (struct addrinfo *))                                                    \
  X(struct hostent *, gethostbyname, (const char *))                                            \
  X(struct hostent *, gethostbyname2, (const char *, int))                                      \
  X(int, gethostbyname_r, (const char *, struct hostent *, char *, size_t, struct hostent **, int *)) \
  X(int, gethostbyname2_r, (const char *, int, struct hostent *, char *, size_t, struct hostent **, int *)) \
  X(struct hostent *, gethostbyaddr, (const void *, socklen_t, int))                            \
  X(int, gethostbyaddr_r, (const void *, socklen_t, int, struct hostent *, char *, size_t,      \
                           struct hostent **, int *))                                           \
  X(int, getnameinfo, (const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int)) \
  X(int, connect, (int, const struct sockaddr *, socklen_t))                                    \
  X(int, bind, (int, const struct sockaddr *, socklen_t))                                       \
  X(int, listen, (int, int))                                                                    \
  X(int, accept, (int, struct sockaddr *, socklen_t *))                                         \
  X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                                   \
  X(int, getsockname, (int, struct sockaddr *, socklen_t *))                                    \
  X(int, getpeername, (int, struct sockaddr *, socklen_t *))                                    \
  X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t))      \
  X(ssize_t, sendmsg, (int, const struct msghdr *, int))                                        \
  X(int, sendmmsg, (int, struct mmsghdr *, unsigned int, int))                                  \
  X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *))              \
  X(ssize_t, recvmsg, (int, struct msghdr *, int))                                              \
  X(int, recvmmsg, (int, struct mmsghdr *, unsigned int, int, struct timespec *))               \
  X(pid_t, fork, (void))                                                                        \
  X(pid_t, vfork, (void))                                                                       \
  X(int, execve, (const char *, char *const[], char *const[]))                                  \
  X(int, execvpe, (const char *, char *const[], char *const[]))                                 \
  X(int, fexecve, (int, char *const[], char *const[]))                                          \
  X(int, execveat, (int, const char *, char *const[], char *const[], int))                      \
  X(int, posix_spawn, (pid_t *, const char *, const posix_spawn_file_actions_t *,               \
                       const posix_spawnattr_t *, char *const[], char *const[]))                \
  X(int, posix_spawnp, (pid_t *, const char *, const posix_spawn_file_actions_t *,              \
                        const posix_spawnattr_t *, char *const[], char *const[]))               \
  X(int, system, (const char *))                                                                \
  X(FILE *, popen, (const char *, const char *))                                                \
  X(int, setenv, (const char *, const char *, int))

#define KM_REAL_FIELD(ret, name, params) ret(*name) params;
struct km_real_table {
  KM_REAL_FUNCS(KM_REAL_FIELD)
};
#undef KM_REAL_FIELD

extern struct km_real_table km_real_fns;

/** Resolves one entry (once; later calls return the cached pointer). NULL if refused/missing. */
void *km_real_resolve(const char *name, void **slot);
/** Resolves the whole table; the constructor calls it so hooks never race on a slot. */
void km_real_resolve_all(void);
/** The names of every entry, NULL-terminated (for the hook-table test). */
extern const char *const km_real_names[];

#define KM_REAL(name) \
  ((__typeof__(km_real_fns.name))(km_real_fns.name ? (void *)km_real_fns.name \
                                                   : km_real_resolve(#name, (void **)&km_real_fns.name)))

#endif
