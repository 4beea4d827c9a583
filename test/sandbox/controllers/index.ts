/** The sandbox's controllers, in the order one pass runs them. */
import { cronJobController } from './cronjob.ts';
import { crdController } from './crd.ts';
import { rolloutController } from './rollout.ts';
import { daemonSetController } from './daemonset.ts';
import { deploymentController } from './deployment.ts';
import { endpointsController } from './endpoints.ts';
import { garbageCollector } from './garbage-collector.ts';
import { jobController } from './job.ts';
import { runControllers, type Controller, type ControllerContext } from './manager.ts';
import { namespaceController } from './namespace.ts';
import { replicaSetController } from './replicaset.ts';
import { statefulSetController } from './statefulset.ts';

/** Name and pass function of every controller. */
export const CONTROLLERS: Array<[string, Controller]> = [
  ['namespace', namespaceController],
  ['garbage-collector', garbageCollector],
  ['crd', crdController],
  ['deployment', deploymentController],
  ['rollout', rolloutController],
  ['replicaset', replicaSetController],
  ['statefulset', statefulSetController],
  ['daemonset', daemonSetController],
  ['cronjob', cronJobController],
  ['job', jobController],
  ['endpoints', endpointsController],
];

/** Starts every controller; returns the stop function. */
export function startControllers(ctx: ControllerContext): () => void {
  return runControllers(ctx, CONTROLLERS);
}
