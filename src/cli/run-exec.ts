/**
 * The CLI's side of `exec`: find the program, warn about what cannot work, start the proxy (which
 * starts the agent and fetches the target's environment), build the environment, and replace this
 * process with the program (`process.execve`), so the program is the very process the shell
 * started: Ctrl-C, Ctrl-Z, `fg`, `kill` and the exit status are the program's own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, LocalError, MirrordError, UsageError } from '../errors.ts';
import type { ForwardingPlan } from './forwarding-options.ts';
import { stderrColors as c } from '../ui/colors.ts';
import type { ExecFeatures } from '../exec/exec-plan.ts';
import { checkExecSize, withLayer } from '../exec/exec-env.ts';
import { mergeEnvironment, parseDotenv } from '../exec/env-merge.ts';
import { newLogPath } from '../exec/exec-log.ts';
import { binaryWarnings, findProgram, inspectBinary } from '../exec/program-lookup.ts';
import { processIdentity } from '../exec/program-watch.ts';
import { launchProxy } from './exec-launch.ts';
import { shippedFile, shippedFileHint } from './self-command.ts';

export const LAYER_FILE = 'libkubectl_mirrord_layer.so';
/** Overrides where the layer is looked for (a build of one's own). */
export const LAYER_PATH_ENV = 'KUBECTL_MIRRORD_LAYER_PATH';

export interface ExecRequest {
  forwarding: ForwardingPlan;
  features: ExecFeatures;
  program: string;
  args: string[];
  configFile: string | undefined;
}

const warn = (text: string) => process.stderr.write(`kubectl-mirrord: ${c.yellow(text)}\n`);

/**
 * The layer: next to the single executable in a release, `build/layer/` in a checkout.
 * @throws LocalError ENOLAYER saying how to build it.
 */
export function findLayer(env: Record<string, string | undefined> = process.env): string {
  const path = env[LAYER_PATH_ENV] || shippedFile(LAYER_FILE, 'layer');
  if (existsSync(path)) return path;
  throw new LocalError('ENOLAYER', `the exec layer is missing: ${path} does not exist`, {
    hint: shippedFileHint(LAYER_FILE, 'layer'),
  });
}

function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError('EENVFILE', `env file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { hint: 'pass the path of a .env file (NAME=value lines) with --env-file or feature.env.env_file' });
  }
  try {
    return parseDotenv(text);
  } catch (err) {
    throw new UsageError('EENVFILE', `env file ${path}: ${(err as Error).message}`, { hint: 'each line is NAME=value, # comments, optional quotes' });
  }
}

/** The private socket directory: 0700, under $XDG_RUNTIME_DIR when there is one. */
function makeSocketDir(): string {
  const base = process.env.XDG_RUNTIME_DIR && existsSync(process.env.XDG_RUNTIME_DIR) ? process.env.XDG_RUNTIME_DIR : tmpdir();
  return mkdtempSync(join(base, 'kubectl-mirrord-'));
}

/** coreutils env(1) with --default-signal (coreutils 8.31 and later). */
const ENV_COMMAND = '/usr/bin/env';
let envResets: boolean | undefined;

/**
 * What to execve. Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across
 * execve (signal(7)), so a program started straight from Node would not die of a broken pipe as it
 * does from a shell (`yes | head -1`). Node cannot set SIG_DFL, so the program is started through
 * `env --default-signal=PIPE,XFSZ`, which resets them and execs it in the same process, with the
 * program's argv[0] as typed. Without such an env(1), the program is started directly.
 */
function launcher(): string | undefined {
  envResets ??= spawnSync(ENV_COMMAND, ['--default-signal=PIPE,XFSZ', 'true'], { stdio: 'ignore' }).status === 0;
  return envResets ? ENV_COMMAND : undefined;
}

function startCommand(path: string, request: ExecRequest, env: Record<string, string>): { file: string; argv: string[] } {
  if (!launcher()) return { file: path, argv: [request.program, ...request.args] };
  // env(1) looks the name up on the new PATH; when that is not this machine's, name the file.
  const name = env.PATH === process.env.PATH ? request.program : path;
  return { file: ENV_COMMAND, argv: ['env', '--default-signal=PIPE,XFSZ', '--', name, ...request.args] };
}

/**
 * libuv puts a terminal, a pipe or a socket into non-blocking mode once Node opens a stream on it
 * (process.stdin as soon as anything touches it), and the mode belongs to the open file, which the
 * program shares: a Python or sh reading a non-blocking stdin sees EAGAIN, i.e. an immediate end of
 * input (`producer | kubectl mirrord exec -- python3 app.py`), and a write to a full non-blocking
 * stdout pipe fails. So every standard stream that Node can hold a libuv handle on is set back to
 * blocking before execve. Opening the stream here, if nothing had, is harmless: it is set blocking
 * at once. A regular file (`< input.txt`) has no handle and was never changed.
 */
function restoreBlockingStdio(): void {
  const streams = [() => process.stdin, () => process.stdout, () => process.stderr];
  for (const stream of streams) {
    (stream() as unknown as { _handle?: { setBlocking?: (blocking: boolean) => void } })._handle?.setBlocking?.(true);
  }
}

/** Never returns: the process becomes the program, or throws a MirrordError before it starts. */
export async function runExec(request: ExecRequest): Promise<void> {
  const { features } = request;
  for (const line of features.warnings) warn(line);
  if (request.forwarding.exposedWarning) warn(request.forwarding.exposedWarning);
  const path = findProgram(request.program, process.env.PATH);
  for (const line of binaryWarnings(path, inspectBinary(path))) warn(line);
  const envFile = features.env.envFile === undefined ? undefined : readEnvFile(features.env.envFile);
  const layer = findLayer();
  const socketDir = makeSocketDir();
  const socketPath = join(socketDir, 'proxy.sock');
  const logPath = newLogPath();
  const proxy = await launchProxy({ forwarding: request.forwarding, features, socketDir, socketPath, logPath, program: path, programProcess: processIdentity(process.pid), launcher: launcher(), verbose: request.forwarding.verbose });
  try {
    const merged = mergeEnvironment({ local: process.env, pod: proxy.ready.env, config: features.env, envFile });
    const env = withLayer(merged, layer, socketPath);
    const start = startCommand(path, request, env);
    checkExecSize(start.argv, env);
    for (const note of proxy.ready.notes) process.stderr.write(`${c.dim(`kubectl-mirrord: ${note}`)}\n`);
    process.stderr.write(`${c.dim(`kubectl-mirrord: session log: ${logPath}`)}\n`);
    restoreBlockingStdio();
    if (!process.execve) throw new MirrordError('ENOEXECVE', 'this Node has no process.execve', ExitCode.internal, { hint: 'kubectl-mirrord exec needs Node 24 or later' });
    process.execve(start.file, start.argv, env);
  } catch (err) {
    await proxy.abort();
    if (err instanceof MirrordError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // execve itself failed: the program's format (ENOEXEC), or it vanished meanwhile.
    throw new MirrordError('EEXEC', `${request.program}: ${(err as Error).message}`, code === 'ENOENT' ? ExitCode.notFound : ExitCode.notExecutable, {
      hint: code === 'ENOEXEC' ? `it is not a program this system can run; a script needs a #! line, or run it through its interpreter (e.g. sh ${request.program})` : 'check the program',
    });
  }
}
