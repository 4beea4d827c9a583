/** Failures of the pods/portforward tunnel to the agent. */
import { AgentError } from '../errors.ts';
import type { MirrordErrorOptions } from '../errors.ts';

/**
 * The tunnel to the agent broke or could not open. Codes: `EPORTFORWARD` (the kubelet reported an
 * error, e.g. nothing listens on the agent port), `EPROTO` (the server broke the channel protocol),
 * `ECLOSED`, `EKEEPALIVE`, `EWEBSOCKET`, `EUPGRADE` (the upgrade was refused).
 */
export class PortForwardError extends AgentError {
  constructor(code: string, message: string, options?: MirrordErrorOptions) {
    super(code, message, options ?? { hint: 'the agent pod may have stopped; run again with -v for details' });
  }
}
