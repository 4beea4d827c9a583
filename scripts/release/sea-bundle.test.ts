/**
 * The CLI bundle (what the single executable runs) carries its dependencies inside it: run from a
 * folder with no node_modules anywhere above it, it still parses a TOML config file (smol-toml)
 * for port-forward and for exec, and reports a TOML syntax error with its position. Its text is
 * ASCII, so V8 holds it at one byte per character.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asciiOnly, bundleCli } from './sea.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the bundled CLI parses TOML config files for port-forward and exec without node_modules', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmsb-bundle-'));
  try {
    const bundle = await bundleCli(root, dir);
    const text = readFileSync(bundle, 'utf8');
    assert.doesNotMatch(text, /require\(["']smol-toml["']\)/, 'smol-toml is inlined, not required');
    const wide = /[^\x00-\x7f]/.exec(text);
    assert.equal(wide, null, `the bundle is ASCII; found U+${wide?.[0].charCodeAt(0).toString(16)} at ${wide?.index}`);
    const run = (args: string[]) => spawnSync(process.execPath, [bundle, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1' } });
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, 'target = "deployment/web"\n[feature.network.incoming\nmode = "steal"\n');
    const unknown = join(dir, 'unknown.toml');
    writeFileSync(unknown, 'target = "deployment/web"\n[feature.env]\nincluded = ["A"]\n');
    const commands: Array<(file: string) => string[]> = [
      (file) => ['port-forward', '-L', '8080:web:80', '-f', file],
      (file) => ['exec', '-f', file, '--', 'true'],
    ];
    for (const command of commands) {
      const syntax = run(command(bad));
      assert.equal(syntax.status, 2, `${command(bad).join(' ')}: ${syntax.stderr}`);
      assert.match(syntax.stderr, /bad\.toml is not valid TOML: .*\(line 2, column \d+\)/);
      const field = run(command(unknown));
      assert.equal(field.status, 2, `${command(unknown).join(' ')}: ${field.stderr}`);
      assert.match(field.stderr, /feature\.env\.included/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('asciiOnly escapes each non-ASCII code unit, and the escapes read back as the same text in code', () => {
  const text = 'a \u2192 b \u00e9 \u{1f600}';
  assert.equal(asciiOnly(text), 'a \\u2192 b \\u00e9 \\ud83d\\ude00');
  assert.equal(asciiOnly('plain ASCII'), 'plain ASCII');
  assert.equal(new Function(`return '${asciiOnly(text)}';`)(), text, 'in a string literal');
  assert.ok(new Function('s', `return /${asciiOnly('\u2192')}/.test(s);`)('x\u2192y'), 'in a regular expression');
});
