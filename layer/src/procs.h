/*
 * Processes. exec: a program that passes its own envp (Node's spawn({ env }), Python's
 * subprocess(env=...)) still starts its child with the layer: the exec hooks put LD_PRELOAD and
 * the two KUBECTL_MIRRORD_* variables back when the envp lacks them (LD_PRELOAD gets the layer
 * appended when it names other libraries only). The hooks run in vfork children and after fork
 * in threaded parents, so the fix-up is async-signal-safe: no malloc, no locks; the new envp is
 * built in memory from mmap, which is a plain system call.
 */
#ifndef KM_PROCS_H
#define KM_PROCS_H

#include <stddef.h>

/** Records the control variables and the layer's path; the constructor calls it once. */
void km_procs_init(char **envp);

/** An envp with the control variables restored, and what to give back afterwards. */
struct km_env {
  char *const *envp; /* what to pass to the real call */
  void *map;         /* mmap'd storage, or NULL when envp is the caller's own */
  size_t map_len;
};

/** Fills *out for `envp` (NULL means an empty environment). Async-signal-safe. */
void km_env_fix(char *const *envp, struct km_env *out);
void km_env_release(struct km_env *env);

/** system/popen use `environ` inside libc: put missing control variables back into it. */
void km_env_restore_environ(void);

/** fork handlers (pthread_atfork) and the vfork emulation. */
void km_procs_install_atfork(void);
int km_vfork_emulated(void);

#endif
