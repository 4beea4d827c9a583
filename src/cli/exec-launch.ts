/**
 * The CLI's side of starting the exec proxy: re-run this CLI's own executable with the internal
 * command `__exec-proxy` (the single executable has no separate script to run; from a checkout it
 * is `node src/cli/main.ts`), detached in a session of its own, hand it the plan, show its
 * progress, and wait for `ready`. Ctrl-C meanwhile asks it to undo everything, waits for that, and
 * ends with exit code 130.
 */
import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { ExitCode, MirrordError } from '../errors.ts';
import { Spinner } from '../ui/spinner.ts';
import { stderrColors as c } from '../ui/colors.ts';
import { selfCommand } from './self-command.ts';
import { ABORT_LINE, lineReader, PROXY_COMMAND, type ProxyEvent, type ProxyStart } from './exec-pipe.ts';

export interface RunningProxy {
  ready: Extract<ProxyEvent, { type: 'ready' }>;
  /** Tells the proxy to undo everything (the program could not be started), and waits for it. */
  abort(): Promise<void>;
}

/**
 * Starts the proxy and resolves once it is ready.
 * @throws MirrordError the proxy's own failure (its code, message, hint and exit code), EINTERRUPTED
 *   (130) after Ctrl-C, or EPROXY when it ended without a word.
 */
export async function launchProxy(start: ProxyStart): Promise<RunningProxy> {
  const self = selfCommand();
  const child = spawn(self.file, [...self.args, PROXY_COMMAND], {
    detached: true,
    // fd 3 is a Unix socket pair (Node's 'pipe'), both ways: the plan and `abort` go out, events
    // come back. Not stdin: Node closes a child's stdin when that child exits, and the first stage
    // exits at once.
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  const control = child.stdio[3] as Duplex;
  const events = control;
  control.on('error', () => {});
  control.write(`${JSON.stringify(start)}\n`);
  // The first stage exits once the daemon runs; nothing else of it is waited for.
  child.unref();
  const spinner = new Spinner('starting the exec proxy');
  const closed = new Promise<void>((resolve) => events.once('close', () => resolve()));
  const abort = async () => {
    control.end(`${ABORT_LINE}\n`);
    await closed;
  };
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(ExitCode.interrupted);
    interrupted = true;
    spinner.update('interrupted: removing the agent');
    control.end(`${ABORT_LINE}\n`);
  };
  process.on('SIGINT', onInterrupt);
  try {
    const ready = await new Promise<Extract<ProxyEvent, { type: 'ready' }>>((resolve, reject) => {
      events.on('data', lineReader((line) => {
        const event = JSON.parse(line) as ProxyEvent;
        if (event.type === 'progress') spinner.update(event.text);
        else if (event.type === 'ready') resolve(event);
        else reject(new MirrordError(event.code, event.message, event.exitCode as ExitCode, { hint: event.hint }));
      }));
      events.once('close', () => reject(interrupted
        ? new MirrordError('EINTERRUPTED', 'interrupted while the agent was starting', ExitCode.interrupted)
        : new MirrordError('EPROXY', 'the exec proxy ended before the agent was ready', ExitCode.internal, { hint: `its log is ${start.logPath}` })));
    });
    if (interrupted) {
      await abort();
      throw new MirrordError('EINTERRUPTED', 'interrupted while the agent was starting', ExitCode.interrupted);
    }
    spinner.stop(c.green(`agent ready in ${spinner.elapsed} s`) + c.dim(ready.agentPod ? ` (pod ${ready.agentPod})` : ''));
    return { ready, abort };
  } catch (err) {
    spinner.stop();
    if (!interrupted) control.end(`${ABORT_LINE}\n`);
    await closed;
    throw err;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
