/** The apiextensions controllers' part the sandbox needs: accepted CRDs get NamesAccepted and Established. */
import { crdStatus } from '../apiserver/custom-resources.ts';
import type { ControllerContext } from './manager.ts';
import { writeStatus } from './pods.ts';

/** One pass over every CustomResourceDefinition. */
export function crdController(ctx: ControllerContext): void {
  for (const crd of ctx.store.list('customresourcedefinitions')) {
    const status = crdStatus(crd);
    if (JSON.stringify(status) !== JSON.stringify(crd.status ?? {})) writeStatus(ctx, 'customresourcedefinitions', crd, status);
  }
}
