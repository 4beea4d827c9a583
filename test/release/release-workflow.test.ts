/**
 * .github/workflows/release.yml cannot run here, so its shape is checked: valid YAML with GitHub's
 * workflow keys, a tag trigger, every step either `uses` a pinned action or `run`s shell that
 * `bash -n` parses (with `${{ }}` expressions replaced), the npm scripts and artifact names it uses
 * exist, the image goes to ghcr.io/kubectl-mirrord/agent:<version> with skopeo, the krew index
 * gets plugins/mirrord.yaml, and the darwin job sits on a macOS runner marked untested.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { AGENT_IMAGE_REPOSITORY } from '../../src/kube/agent-image.ts';
import { archiveName, imageArchiveName, RELEASE_PLATFORMS } from '../../scripts/release/platforms.ts';
import { REPO } from './release-build.ts';

const text = readFileSync(join(REPO, '.github/workflows/release.yml'), 'utf8');
const workflow = load(text) as any;
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const WORKFLOW_KEYS = new Set(['name', 'on', 'permissions', 'env', 'jobs', 'concurrency', 'defaults', 'run-name']);
const JOB_KEYS = new Set(['runs-on', 'container', 'steps', 'needs', 'if', 'env', 'permissions', 'timeout-minutes', 'strategy', 'name', 'outputs']);
const STEP_KEYS = new Set(['name', 'uses', 'run', 'with', 'env', 'if', 'id', 'shell', 'working-directory', 'continue-on-error']);
const CONTEXTS = new Set(['github', 'secrets', 'env', 'steps', 'needs', 'runner', 'matrix', 'inputs', 'vars', 'job']);

test('the workflow: known keys, a version-tag trigger, steps that use pinned actions or run shell that parses', () => {
  for (const k of Object.keys(workflow)) assert.ok(WORKFLOW_KEYS.has(k), `top-level key ${k}`);
  const tags: string[] = workflow.on.push.tags;
  assert.ok(tags.some((t) => t.startsWith('v')), 'runs on v* tags');
  for (const [name, job] of Object.entries<any>(workflow.jobs)) {
    for (const k of Object.keys(job)) assert.ok(JOB_KEYS.has(k), `${name}: job key ${k}`);
    assert.ok(job['runs-on'], `${name} has runs-on`);
    for (const step of job.steps) {
      for (const k of Object.keys(step)) assert.ok(STEP_KEYS.has(k), `${name}: step key ${k}`);
      assert.ok((step.uses === undefined) !== (step.run === undefined), `${name}: a step has uses or run, not both: ${JSON.stringify(step)}`);
      if (step.uses) assert.match(step.uses, /^[\w-]+\/[\w-]+@v\d+$/, `${name}: action pinned to a major version`);
      if (step.run) {
        const shell = step.run.replace(/\$\{\{[^}]*\}\}/g, 'X');
        const parsed = spawnSync('bash', ['-n'], { input: shell, encoding: 'utf8' });
        assert.equal(parsed.status, 0, `${name}: bash -n on\n${step.run}\n${parsed.stderr}`);
        for (const m of step.run.matchAll(/npm run (\S+)/g)) assert.ok(pkg.scripts[m[1]], `${name}: npm run ${m[1]} exists`);
      }
    }
  }
  for (const m of text.matchAll(/\$\{\{\s*([\w-]+)/g)) assert.ok(CONTEXTS.has(m[1]), `expression context ${m[1]}`);
});

test('the linux job builds dist/, tests it, publishes every artifact, pushes the image with skopeo and updates the krew index', () => {
  const steps: any[] = workflow.jobs.linux.steps;
  const runs = steps.map((s) => s.run ?? '').join('\n');
  assert.match(runs, /npm run release -- --fetch\n\s*npm run release/);
  assert.match(runs, /npm test -- test\/release\//);
  const files: string = steps.find((s) => s.uses?.startsWith('softprops/action-gh-release'))!.with.files;
  const globs = files.trim().split('\n').map((g) => g.trim());
  const toRegExp = (g: string) => new RegExp('^' + g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*') + '$');
  for (const artifact of [...RELEASE_PLATFORMS.map((p) => archiveName('1.2.3', p)), imageArchiveName('1.2.3'), 'krew/mirrord.yaml', 'SHA256SUMS']) {
    assert.ok(globs.some((g) => toRegExp(g).test(`dist/${artifact}`)), `${artifact} is published`);
  }
  assert.match(runs, new RegExp(`skopeo copy --all .*\\n.*oci-archive:dist/kubectl-mirrord-agent_\\$\\{VERSION\\}_oci\\.tar:\\$\\{VERSION\\}.*\\n.*docker://${AGENT_IMAGE_REPOSITORY.replace(/\./g, '\\.')}:\\$\\{VERSION\\}`));
  assert.match(runs, /cp dist\/krew\/mirrord\.yaml krew-index\/plugins\/mirrord\.yaml/);
  assert.match(runs, /"v\$version" != "\$GITHUB_REF_NAME"/, 'refuses a tag that is not the package version');
  assert.equal(workflow.jobs.linux.container, 'debian:bookworm', 'the same Debian as .ci/run');
});

test('the darwin job runs on a macOS runner, re-signs after injection, and is marked untested', () => {
  const job = workflow.jobs['darwin-arm64'];
  assert.match(job['runs-on'], /^macos-/);
  const runs = job.steps.map((s: any) => s.run ?? '').join('\n');
  assert.match(runs, /codesign --remove-signature[\s\S]*postject[\s\S]*codesign --sign -/);
  assert.match(text, /# UNTESTED: no macOS runner/);
});
