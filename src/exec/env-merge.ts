/**
 * The program's environment under exec: the pod's environment merged over this machine's, with
 * mirrord's `feature.env` semantics (research/layer.md, "feature.env"):
 *
 * 1. the pod's variables, filtered by `include` (only those) or `exclude` (all but those); neither
 *    means all, `feature.env: false` means none;
 * 2. variables that must stay local (ALWAYS_LOCAL) are never taken from the pod, unless `include`
 *    names them exactly: a wildcard (`*`, `DOTNET_*`) does not count;
 * 3. `env_file` (dotenv) over that, then `mapping` (a regex on the name replaces the value), then
 *    `override`;
 * 4. `unset` (case-insensitive names) removes variables from the result, local ones included;
 * 5. the layer's control variables are added last (exec-env.ts), never from the pod.
 *
 * Pure: the caller passes both environments and the parsed env file.
 */
import type { EnvConfig } from '../config/exec-schema.ts';

/**
 * Variables that describe this machine, not the pod: a remote PATH or HOME breaks local tools, a
 * remote JAVA_TOOL_OPTIONS loads a JVM agent twice (mirrord-intellij#218), a remote LD_PRELOAD or
 * NODE_OPTIONS loads code that is not here. The first block is the list; the second is
 * mirrord's agent-side always-excluded list (mirrord/agent/src/env.rs). `BUNDLER_ORIG_*` is a
 * prefix.
 */
export const ALWAYS_LOCAL: readonly string[] = [
  'PATH', 'HOME', 'PWD', 'SHELL', 'TERM', 'USER', 'LANG', 'TMPDIR', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS',
  'NODE_OPTIONS', 'PYTHONPATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH',
  'BUNDLER_ORIG_*', 'BUNDLER_VERSION', 'BUNDLE_APP_CONFIG', 'BUNDLE_BIN_PATH', 'BUNDLE_FORCE_RUBY_PLATFORM',
  'BUNDLE_GEMFILE', 'BUNDLE_GEM_PATH', 'BUNDLE_PATH', 'BUNDLE_WITHOUT', 'CATALINA_HOME', 'CLASSPATH',
  'DOTNET_EnableDiagnostics', 'DOTNET_STARTUP_HOOKS', 'GEM_HOME', 'GEM_PATH', 'GOPATH', 'GOMODCACHE',
  'HOMEPATH', 'JAVA_EXE', 'JAVA_HOME', 'RUBYLIB', 'RUBYOPT', 'MIRRORD_LOG', 'RUST_LOG',
];

/** Variables kubectl-mirrord sets for the layer; never taken from the pod, whatever include says. */
export const CONTROL_PREFIX = 'KUBECTL_MIRRORD_';

/** A mirrord wildcard (`*` any run, `?` one character) as an anchored regex. */
export function wildcard(pattern: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`);
}

function isAlwaysLocal(name: string): boolean {
  return ALWAYS_LOCAL.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : entry === name));
}

/** The pod's variables the filters let through (steps 1 and 2). */
export function podVariables(pod: Record<string, string>, config: EnvConfig | undefined): Record<string, string> {
  if (config && !config.enabled) return {};
  const include = config?.include?.map(wildcard);
  const exclude = config?.exclude?.map(wildcard);
  const named = new Set(config?.include?.filter((p) => !/[*?]/.test(p)) ?? []);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(pod)) {
    if (name.startsWith(CONTROL_PREFIX)) continue;
    if (isAlwaysLocal(name) && !named.has(name)) continue;
    if (include && !include.some((re) => re.test(name))) continue;
    if (exclude?.some((re) => re.test(name))) continue;
    out[name] = value;
  }
  return out;
}

/** `mapping`: for every variable whose name matches, the value becomes the replacement ($1 from the name's match). */
function applyMapping(env: Record<string, string>, mapping: Array<[string, string]>): void {
  for (const [pattern, replacement] of mapping) {
    const re = new RegExp(pattern);
    for (const name of Object.keys(env)) {
      const match = re.exec(name);
      if (match) env[name] = replacement.replace(/\$(\d+)/g, (_, n: string) => match[Number(n)] ?? '');
    }
  }
}

export interface MergeInput {
  /** This machine's environment (process.env). */
  local: Record<string, string | undefined>;
  /** The target container's environment; {} without a target. */
  pod: Record<string, string>;
  config: EnvConfig | undefined;
  /** Parsed `env_file` (dotenv), if one was given. */
  envFile: Record<string, string> | undefined;
}

/** Steps 1 to 4. The result has no undefined values. */
export function mergeEnvironment(input: MergeInput): Record<string, string> {
  const fromPod = podVariables(input.pod, input.config);
  const overlay: Record<string, string> = { ...fromPod, ...(input.envFile ?? {}) };
  applyMapping(overlay, input.config?.mapping ?? []);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.local)) if (value !== undefined) env[name] = value;
  Object.assign(env, overlay, input.config?.override ?? {});
  const unset = new Set((input.config?.unset ?? []).map((n) => n.toUpperCase()));
  for (const name of Object.keys(env)) if (unset.has(name.toUpperCase())) delete env[name];
  return env;
}

/**
 * A dotenv file: `NAME=value` lines, `export ` prefixes, `#` comments, single quotes (literal) and
 * double quotes (with \n, \t, \" and \\ escapes). Throws with the line number of a bad line.
 */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`line ${index + 1} is not NAME=value: ${JSON.stringify(raw.slice(0, 80))}`);
    let value = m[2];
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end === -1) throw new Error(`line ${index + 1}: unterminated single quote`);
      value = value.slice(1, end);
    } else if (value.startsWith('"')) {
      const end = /^"((?:[^"\\]|\\.)*)"/.exec(value);
      if (!end) throw new Error(`line ${index + 1}: unterminated double quote`);
      value = end[1].replace(/\\([nt"\\])/g, (_, ch: string) => ({ n: '\n', t: '\t', '"': '"', '\\': '\\' })[ch] as string);
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]] = value;
  });
  return out;
}
