/**
 * The release's figures: the single executables' sizes, `--help` start-up of the linux/amd64
 * executable next to the CLI from source (bin/kubectl-mirrord, and node src/cli/main.ts) in the
 * same run, interleaved, and the agent image's compressed size per platform. Uses the release
 * build the tests share (test/release/release-build.ts), building it if its inputs changed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveName, imageArchiveName, RELEASE_PLATFORMS } from '../../scripts/release/platforms.ts';
import { releaseBuild, REPO } from '../../test/release/release-build.ts';
import { emptyReport, type CaseReport } from '../report.ts';

const MB = 1e6;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Wall time of one run, ms; throws if it fails. */
function timeRun(cmd: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: REPO });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

export function benchRelease(options: { runs: number }, log: (line: string) => void): CaseReport {
  const report = emptyReport();
  log('release build (cached by its inputs)');
  const { dir, version } = releaseBuild();
  const work = mkdtempSync(join(tmpdir(), 'kmrd-bench-release-'));
  try {
    for (const p of RELEASE_PLATFORMS) {
      const archive = join(dir, archiveName(version, p));
      const out = join(work, p.arch);
      execFileSync('mkdir', ['-p', out]);
      execFileSync('tar', ['-xzf', archive, '-C', out, 'kubectl-mirrord']);
      report.measurements.push(
        { name: `executable linux/${p.arch}`, value: statSync(join(out, 'kubectl-mirrord')).size / MB, unit: 'MB' },
        { name: `krew archive linux/${p.arch} (tar.gz)`, value: statSync(archive).size / MB, unit: 'MB' },
      );
    }
    const exe = join(work, 'amd64', 'kubectl-mirrord');
    const paths: Record<string, [string, string[]]> = {
      executable: [exe, ['--help']],
      bin: [join(REPO, 'bin/kubectl-mirrord'), ['--help']],
      node: [process.execPath, [join(REPO, 'src/cli/main.ts'), '--help']],
    };
    const times: Record<string, number[]> = { executable: [], bin: [], node: [] };
    log(`--help start-up, ${options.runs} interleaved runs of each`);
    for (const [cmd, args] of Object.values(paths)) timeRun(cmd, args); // warm the page cache
    for (let i = 0; i < options.runs; i++) {
      for (const [name, [cmd, args]] of Object.entries(paths)) times[name].push(timeRun(cmd, args));
    }
    const exeMs = median(times.executable);
    const binMs = median(times.bin);
    report.measurements.push(
      { name: '--help: single executable (median)', value: exeMs, unit: 'ms' },
      { name: '--help: bin/kubectl-mirrord from source (median)', value: binMs, unit: 'ms' },
      { name: '--help: node src/cli/main.ts (median)', value: median(times.node), unit: 'ms' },
    );
    report.ratios.release_help_startup_vs_source = exeMs / binMs;
    report.goals.push({ name: 'executable --help start-up within 1.2x of source', met: exeMs / binMs <= 1.2, detail: `${exeMs.toFixed(0)} ms vs ${binMs.toFixed(0)} ms (${(exeMs / binMs).toFixed(2)}x)` });

    const layout = join(work, 'oci');
    execFileSync('mkdir', ['-p', layout]);
    execFileSync('tar', ['-xf', join(dir, imageArchiveName(version)), '-C', layout]);
    const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs/sha256', digest.split(':')[1]), 'utf8'));
    const top = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const index = blob(top.manifests[0].digest);
    let largest = 0;
    for (const m of index.manifests) {
      const manifest = blob(m.digest);
      const bytes = manifest.layers.reduce((n: number, l: { size: number }) => n + l.size, 0) + manifest.config.size;
      largest = Math.max(largest, bytes);
      report.measurements.push({ name: `agent image linux/${m.platform.architecture}, compressed`, value: bytes / MB, unit: 'MB' });
    }
    report.measurements.push({ name: 'agent image OCI archive (both platforms)', value: statSync(join(dir, imageArchiveName(version))).size / MB, unit: 'MB' });
    report.goals.push({ name: 'agent image under 60 MB compressed', met: largest < 60 * MB, detail: `${(largest / MB).toFixed(1)} MB (largest platform)` });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return report;
}
