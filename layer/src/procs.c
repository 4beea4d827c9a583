/* Processes (procs.h). */
#define _GNU_SOURCE
#include "procs.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fdtab.h"
#include "generated/layer_protocol.h"
#include "incoming.h"
#include "layer.h"
#include "link.h"
#include "names.h"
#include "real.h"
#include "registry.h"

extern char **environ;

/* Set once by the constructor, read only afterwards (so safe in a vfork child). */
static char lib_path[PATH_MAX];
static char var_preload[PATH_MAX + 64];
static char var_socket[256];
static char var_config[4096];

static const char *find_var(char *const *envp, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; envp && envp[i]; i++)
    if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') return envp[i];
  return NULL;
}

void km_procs_init(char **envp) {
  Dl_info info;
  if (dladdr((void *)&km_procs_init, &info) && info.dli_fname && info.dli_fname[0] == '/')
    snprintf(lib_path, sizeof lib_path, "%s", info.dli_fname);
  const char *v = find_var(envp, KM_ENV_PRELOAD);
  if (v && strlen(v) < sizeof var_preload) strcpy(var_preload, v);
  else if (lib_path[0]) snprintf(var_preload, sizeof var_preload, "%s=%s", KM_ENV_PRELOAD, lib_path);
  v = find_var(envp, KM_ENV_LAYER_SOCKET);
  if (v && strlen(v) < sizeof var_socket) strcpy(var_socket, v);
  v = find_var(envp, KM_ENV_LAYER_CONFIG);
  if (v && strlen(v) < sizeof var_config) strcpy(var_config, v);
}

/* Does an LD_PRELOAD value (after "LD_PRELOAD=") name the layer? Entries split on ':' or ' '. */
static int names_layer(const char *value) {
  size_t n = strlen(lib_path);
  if (!n) return 1;
  for (const char *p = value; *p;) {
    const char *end = p;
    while (*end && *end != ':' && *end != ' ') end++;
    if ((size_t)(end - p) == n && memcmp(p, lib_path, n) == 0) return 1;
    p = *end ? end + 1 : end;
  }
  return 0;
}

void km_env_fix(char *const *envp, struct km_env *out) {
  static char *const empty[] = {NULL};
  out->envp = envp ? envp : empty;
  out->map = NULL;
  out->map_len = 0;
  if (!var_socket[0]) return; /* the process was not started under exec: nothing to restore */
  const char *preload = find_var(out->envp, KM_ENV_PRELOAD);
  int need_preload = !preload || !names_layer(preload + strlen(KM_ENV_PRELOAD) + 1);
  int need_socket = !find_var(out->envp, KM_ENV_LAYER_SOCKET);
  int need_config = var_config[0] && !find_var(out->envp, KM_ENV_LAYER_CONFIG);
  if (!need_preload && !need_socket && !need_config) return;
  size_t count = 0;
  while (out->envp[count]) count++;
  size_t preload_len = (preload ? strlen(preload) + 1 : 0) + strlen(var_preload) + 2;
  size_t len = (count + 4) * sizeof(char *) + preload_len;
  len = (len + 4095) & ~(size_t)4095;
  void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return; /* the caller's envp, unchanged: better than no exec */
  char **vec = map;
  char *text = (char *)(vec + count + 4);
  size_t k = 0;
  for (size_t i = 0; i < count; i++) {
    if (need_preload && preload && out->envp[i] == preload) continue;
    vec[k++] = out->envp[i];
  }
  if (need_preload) {
    if (preload && preload[strlen(KM_ENV_PRELOAD) + 1]) {
      /* Their libraries first, then the layer. */
      size_t a = strlen(preload);
      memcpy(text, preload, a);
      text[a] = ':';
      strcpy(text + a + 1, lib_path[0] ? lib_path : var_preload + strlen(KM_ENV_PRELOAD) + 1);
      vec[k++] = text;
    } else {
      vec[k++] = var_preload;
    }
  }
  if (need_socket) vec[k++] = var_socket;
  if (need_config) vec[k++] = var_config;
  vec[k] = NULL;
  out->envp = vec;
  out->map = map;
  out->map_len = len;
}

void km_env_release(struct km_env *env) {
  if (env->map) munmap(env->map, env->map_len);
  env->map = NULL;
}

static void restore_one(const char *var) {
  if (!var[0]) return;
  const char *eq = strchr(var, '=');
  char name[64];
  size_t n = (size_t)(eq - var);
  if (!eq || n >= sizeof name) return;
  memcpy(name, var, n);
  name[n] = 0;
  const char *have = getenv(name);
  if (have && (strcmp(name, KM_ENV_PRELOAD) != 0 || names_layer(have))) return;
  if (have && have[0]) {
    char joined[PATH_MAX * 2];
    snprintf(joined, sizeof joined, "%s:%s", have, lib_path);
    KM_REAL(setenv)(name, joined, 1);
  } else {
    KM_REAL(setenv)(name, eq + 1, 1);
  }
}

void km_env_restore_environ(void) {
  if (!var_socket[0]) return;
  restore_one(var_preload);
  restore_one(var_socket);
  restore_one(var_config);
}

/* Lock order: link, fd table, registries, names (no path takes them in another order). */
static void prepare(void) {
  km_link_atfork_prepare();
  km_fd_atfork_prepare();
  km_registry_atfork_prepare();
  km_names_atfork_prepare();
}

static void parent(void) {
  km_names_atfork_parent();
  km_registry_atfork_parent();
  km_fd_atfork_parent();
  km_link_atfork_parent();
}

static void child(void) {
  km_names_atfork_child();
  km_registry_atfork_child();
  km_fd_atfork_child();
  km_link_atfork_child();
  km_incoming_atfork_child();
}

void km_procs_install_atfork(void) { pthread_atfork(prepare, parent, child); }

/*
 * vfork as fork: a hook cannot call the real vfork (the child would return through the hook's
 * frame, which the parent still needs), and the child must get its own link. The parent waits,
 * as with vfork, until the child execs or exits: the close-on-exec pipe then reads EOF.
 */
int km_vfork_emulated(void) {
  int p[2];
  int have_pipe = pipe2(p, O_CLOEXEC) == 0;
  pid_t pid = KM_REAL(fork)();
  if (pid == 0) {
    if (have_pipe) KM_REAL(close)(p[0]);
    return 0;
  }
  if (have_pipe) {
    int saved = errno;
    KM_REAL(close)(p[1]);
    if (pid > 0) {
      char c;
      while (read(p[0], &c, 1) < 0 && errno == EINTR) {
      }
    }
    KM_REAL(close)(p[0]);
    errno = saved;
  }
  return pid;
}
