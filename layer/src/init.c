/*
 * The constructor: resolve the real functions, read the control variables, connect to the proxy
 * (HELLO), install the fork handlers. Without KUBECTL_MIRRORD_LAYER_SOCKET the layer stays inert
 * and silent. With it but no proxy, one line goes to stderr and the remote calls fail with the
 * errno they would have (ECONNREFUSED, EAI_AGAIN); files stay local, for no rules arrived (once
 * rules arrived, a later break makes remote paths fail with EIO instead).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incoming.h"
#include "layer.h"
#include "link.h"
#include "procs.h"
#include "real.h"


static int unreachable_said;

__attribute__((constructor)) static void km_init(int argc, char **argv, char **envp) {
  km_guard_enter();
  km_real_resolve_all();
  km_procs_init(envp);
  const char *path = getenv(KM_ENV_LAYER_SOCKET);
  if (!path || !path[0]) {
    km_guard_leave();
    return;
  }
  km_link_set_argv0(argc > 0 && argv ? argv[0] : "");
  km_procs_install_atfork();
  km_incoming_init();
  int rc = km_link_open(path, 1);
  if (rc < 0) {
    km_state = KM_BROKEN;
    km_stderr_once(&unreachable_said, "kubectl-mirrord: cannot reach the exec proxy at %s (%s); remote files, DNS and "
                   "outgoing connections fail in pid %d", path, strerror(-rc), (int)getpid());
  } else {
    /* A skipped process keeps its connection (the proxy counts it) and passes everything through. */
    km_state = (km_config.flags & KM_FLAG_SKIP) ? KM_INERT : KM_ACTIVE;
  }
  km_guard_leave();
}
