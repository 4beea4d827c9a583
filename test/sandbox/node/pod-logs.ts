/**
 * `podLogs`: a container's log file (stdout and stderr, interleaved as written), optionally only the
 * last `tailLines` lines, optionally followed until the container stops.
 */
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import type { PodWorker } from './pod-worker.ts';

const FOLLOW_POLL_MS = 200;

/** Thrown (as the stream's error) for a container name the pod does not have. */
export class LogTargetError extends Error {
  readonly code = 'LOG_TARGET_INVALID';
}

function lastLines(text: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let at = end;
  for (let seen = 0; at > 0; at--) {
    if (text[at - 1] === 0x0a && ++seen === n) break;
  }
  return text.subarray(at);
}

/** Streams the log of `containerName` in `worker`'s pod; errors arrive as stream errors. */
export function podLogs(worker: PodWorker, containerName: string | undefined, opts: { follow: boolean; tailLines?: number }): Readable {
  const out = new PassThrough();
  const c = worker.container(containerName);
  if (!c) {
    const names = [...worker.containers, ...worker.ephemeralContainers].map((x) => x.name).join(' ');
    const msg = containerName === undefined
      ? `a container name must be specified for pod ${worker.name}, choose one of: [${names}]`
      : `container ${containerName} is not valid for pod ${worker.name}`;
    process.nextTick(() => out.destroy(new LogTargetError(msg)));
    return out;
  }
  const path = worker.logPath(c.name, c.restartCount);
  void (async () => {
    const file = await open(path, 'r').catch(() => undefined);
    if (!file) return out.end();
    try {
      let pos = 0;
      const first = await file.readFile();
      pos = first.length;
      out.write(opts.tailLines !== undefined ? lastLines(first, opts.tailLines) : first);
      while (opts.follow && !out.destroyed) {
        const stillRunning = c.running;
        const { bytesRead, buffer } = await file.read({ buffer: Buffer.alloc(64 * 1024), position: pos });
        pos += bytesRead;
        if (bytesRead > 0) out.write(buffer.subarray(0, bytesRead));
        else if (!stillRunning) break;
        else await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
      }
      out.end();
    } finally {
      await file.close();
    }
  })().catch((err) => out.destroy(err));
  return out;
}
