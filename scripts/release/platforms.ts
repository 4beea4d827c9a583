/**
 * The platforms a release ships, and what each one's archive holds. This list is the one place a
 * per-platform artifact is added: the krew manifest's `files` and the archive tests follow it.
 *
 * macOS is not here: it needs a macOS runner (npm's darwin-arm64 Node 24 builds stop at 24.0.0, and
 * a Mach-O binary must be signed again after injection; research/dist.md 2.4, 2.5). See the
 * release workflow's darwin job and README "Platforms".
 */

export interface ReleasePlatform {
  /** krew's selector labels (Go's GOOS/GOARCH names). */
  os: 'linux';
  arch: 'amd64' | 'arm64';
  /** The npm registry's Node package for this platform: node-linux-<nodeArch>. */
  nodeArch: 'x64' | 'arm64';
  /** Debian's architecture name (`apt-get download pkg:<debArch>`), for the agent image. */
  debArch: 'amd64' | 'arm64';
  /** Debian's multiarch triplet, where its libraries live (/usr/lib/<triplet>). */
  triplet: string;
  /** ELF e_machine of this platform's executables (EM_X86_64 = 62, EM_AARCH64 = 183; elf.h). */
  elfMachine: number;
  /** A strip(1) that understands this platform's ELF files (binutils is built per target). */
  strip: string;
  /**
   * The exec layer (`layer/`, C) built for this platform with `compiler` (layer/Makefile's `CC`):
   * the archive holds it beside the executable under `file`, the name the single executable looks
   * for next to itself (LAYER_FILE in src/cli/run-exec.ts), and the krew manifest installs it.
   * arm64's compiler is Debian's gcc-aarch64-linux-gnu.
   */
  execLayer: { file: string; compiler: string } | undefined;
  /**
   * The CLI's memory addon (`native/`, C, Node-API: malloc_trim) built for this platform with
   * `compiler`: the archive holds it beside the executable under `file`, the name the single
   * executable looks for next to itself (MEMORY_ADDON_FILE in src/cli/memory-addon.ts).
   */
  memoryAddon: { file: string; compiler: string } | undefined;
}

/** The exec layer's file name; the same as LAYER_FILE in src/cli/run-exec.ts (archives.test.ts checks). */
export const LAYER_FILE = 'libkubectl_mirrord_layer.so';

/** The memory addon's file name; the same as MEMORY_ADDON_FILE in src/cli/memory-addon.ts (archives.test.ts checks). */
export const MEMORY_ADDON_FILE = 'kubectl_mirrord_memory.node';

export const RELEASE_PLATFORMS: readonly ReleasePlatform[] = [
  {
    os: 'linux', arch: 'amd64', nodeArch: 'x64', debArch: 'amd64', triplet: 'x86_64-linux-gnu',
    elfMachine: 62, strip: 'strip', execLayer: { file: LAYER_FILE, compiler: 'x86_64-linux-gnu-gcc' },
    memoryAddon: { file: MEMORY_ADDON_FILE, compiler: 'x86_64-linux-gnu-gcc' },
  },
  {
    os: 'linux', arch: 'arm64', nodeArch: 'arm64', debArch: 'arm64', triplet: 'aarch64-linux-gnu',
    elfMachine: 183, strip: 'aarch64-linux-gnu-strip', execLayer: { file: LAYER_FILE, compiler: 'aarch64-linux-gnu-gcc' },
    memoryAddon: { file: MEMORY_ADDON_FILE, compiler: 'aarch64-linux-gnu-gcc' },
  },
];

/** The CLI executable's name inside every archive, and krew's `bin`. */
export const EXECUTABLE = 'kubectl-mirrord';

/** `kubectl-mirrord_0.1.0_linux_amd64.tar.gz` */
export function archiveName(version: string, p: Pick<ReleasePlatform, 'os' | 'arch'>): string {
  return `kubectl-mirrord_${version}_${p.os}_${p.arch}.tar.gz`;
}

/** `kubectl-mirrord-agent_0.1.0_oci.tar` */
export function imageArchiveName(version: string): string {
  return `kubectl-mirrord-agent_${version}_oci.tar`;
}

/** What an archive holds, in order, with modes: the executable, the layer and the addon when built, the docs. */
export function archiveMembers(p: ReleasePlatform): { path: string; mode: number }[] {
  return [
    { path: EXECUTABLE, mode: 0o755 },
    ...(p.execLayer ? [{ path: p.execLayer.file, mode: 0o755 }] : []),
    ...(p.memoryAddon ? [{ path: p.memoryAddon.file, mode: 0o755 }] : []),
    { path: 'LICENSE', mode: 0o644 },
    { path: 'README.md', mode: 0o644 },
  ];
}
