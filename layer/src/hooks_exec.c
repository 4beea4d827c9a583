/*
 * Hooks: exec, spawn, system, popen, vfork. The exec hooks are async-signal-safe (procs.h): they
 * run in vfork children and after fork in threaded parents. glibc's execvp, execvpe and execl*
 * reach execve inside libc, past any hook, so each has a hook of its own.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hooks.h"
#include "procs.h"

extern char **environ;

KM_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  struct km_env env;
  km_env_fix(envp, &env);
  int rc = KM_REAL(execve)(path, argv, env.envp);
  int saved = errno;
  km_env_release(&env);
  errno = saved;
  return rc;
}

KM_EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

KM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  struct km_env env;
  km_env_fix(envp, &env);
  int rc = KM_REAL(execvpe)(file, argv, env.envp);
  int saved = errno;
  km_env_release(&env);
  errno = saved;
  return rc;
}

KM_EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

KM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  struct km_env env;
  km_env_fix(envp, &env);
  int rc = KM_REAL(fexecve)(fd, argv, env.envp);
  int saved = errno;
  km_env_release(&env);
  errno = saved;
  return rc;
}

KM_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
  if (!KM_REAL(execveat)) {
    errno = ENOSYS;
    return -1;
  }
  struct km_env env;
  km_env_fix(envp, &env);
  int rc = KM_REAL(execveat)(dirfd, path, argv, env.envp, flags);
  int saved = errno;
  km_env_release(&env);
  errno = saved;
  return rc;
}

/* The execl family: the arguments go into an array on the stack (no malloc). */
#define KM_COUNT_ARGS(first, ap, n)                      \
  do {                                                   \
    va_list c_;                                          \
    va_copy(c_, ap);                                     \
    n = 1;                                               \
    if (first)                                           \
      while (va_arg(c_, char *)) n++;                    \
    va_end(c_);                                          \
  } while (0)

#define KM_FILL_ARGS(argv, first, ap, n)                 \
  do {                                                   \
    argv[0] = (char *)first;                             \
    for (size_t i_ = 1; i_ < n; i_++) argv[i_] = va_arg(ap, char *); \
    argv[n] = NULL;                                      \
  } while (0)

KM_EXPORT int execl(const char *path, const char *arg, ...) {
  va_list ap;
  size_t n;
  va_start(ap, arg);
  KM_COUNT_ARGS(arg, ap, n);
  char *argv[n + 1];
  KM_FILL_ARGS(argv, arg, ap, n);
  va_end(ap);
  return execve(path, argv, environ);
}

KM_EXPORT int execlp(const char *file, const char *arg, ...) {
  va_list ap;
  size_t n;
  va_start(ap, arg);
  KM_COUNT_ARGS(arg, ap, n);
  char *argv[n + 1];
  KM_FILL_ARGS(argv, arg, ap, n);
  va_end(ap);
  return execvpe(file, argv, environ);
}

KM_EXPORT int execle(const char *path, const char *arg, ...) {
  va_list ap;
  size_t n;
  va_start(ap, arg);
  KM_COUNT_ARGS(arg, ap, n);
  char *argv[n + 1];
  KM_FILL_ARGS(argv, arg, ap, n);
  if (arg) (void)va_arg(ap, char *); /* the NULL that ends the arguments */
  char *const *envp = va_arg(ap, char *const *);
  va_end(ap);
  return execve(path, argv, envp);
}

KM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  struct km_env env;
  km_env_fix(envp, &env);
  int rc = KM_REAL(posix_spawn)(pid, path, actions, attr, argv, env.envp);
  km_env_release(&env);
  return rc;
}

KM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  struct km_env env;
  km_env_fix(envp, &env);
  int rc = KM_REAL(posix_spawnp)(pid, file, actions, attr, argv, env.envp);
  km_env_release(&env);
  return rc;
}

/* system and popen spawn inside libc with `environ`: put the control variables back there. */
KM_EXPORT int system(const char *command) {
  if (command && !km_guarded()) KM_GUARDED((km_env_restore_environ(), 0));
  return KM_REAL(system)(command);
}

KM_EXPORT FILE *popen(const char *command, const char *type) {
  if (!km_guarded()) KM_GUARDED((km_env_restore_environ(), 0));
  return KM_REAL(popen)(command, type);
}

KM_EXPORT pid_t vfork(void) {
  if (km_state == KM_INERT) return KM_REAL(fork)();
  return km_vfork_emulated();
}
