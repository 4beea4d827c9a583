/**
 * Runs the sandbox's controllers. Instead of per-key work queues, every change in the store (and a
 * one-second tick, for deadlines and TTLs) schedules one pass over all controllers; each controller
 * is level-triggered and idempotent, so a pass that changes nothing ends the cascade. With the
 * handful of objects a sandbox holds this is both simpler and fast enough.
 */
import type { ObjectStore } from '../apiserver/store.ts';
import type { Registry } from '../apiserver/registry.ts';

/** What every controller gets. */
export interface ControllerContext {
  store: ObjectStore;
  registry: Registry;
  /** PEM of the cluster CA, which the root CA publisher puts in every namespace's kube-root-ca.crt. */
  caCert?: string;
}

/** One reconcile pass over every object the controller owns. Must not throw for ordinary errors. */
export type Controller = (ctx: ControllerContext) => void;

const TICK_MS = 1000;
/** Changes arriving within this window are handled by one pass. */
const BATCH_MS = 10;

/** Starts the controllers; returns the stop function. */
export function runControllers(ctx: ControllerContext, controllers: Array<[string, Controller]>): () => void {
  let scheduled: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = (): void => {
    scheduled = undefined;
    for (const [name, controller] of controllers) {
      if (stopped) return;
      try {
        controller(ctx);
      } catch (err) {
        process.stderr.write(`controller ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
      }
    }
  };
  const schedule = (): void => {
    if (!scheduled && !stopped) scheduled = setTimeout(pass, BATCH_MS);
  };
  const unsubscribe = ctx.store.subscribe(schedule);
  const tick = setInterval(schedule, TICK_MS);
  schedule();
  return () => {
    stopped = true;
    unsubscribe();
    clearInterval(tick);
    if (scheduled) clearTimeout(scheduled);
  };
}
