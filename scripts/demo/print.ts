/**
 * What the demo prints, on stdout: step headings, explanations, the commands it runs and those a
 * user can type, check lines (`✓ step N checked: ...`, which test/e2e/demo.test.ts looks for) and
 * failures (`✗ step N failed: ...` with the evidence). Progress of setup goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './context.ts';

const write = (text: string) => process.stdout.write(`${text}\n`);
const indent = (text: string, by: string) => text.split('\n').map((l) => `${by}${l}`).join('\n');

export function progress(line: string): void {
  process.stderr.write(`demo: ${line}\n`);
}

export function heading(n: number, of: number, title: string): void {
  write(`\n━━ step ${n} of ${of}: ${title}`);
}

export function say(...lines: string[]): void {
  for (const line of lines) write(`   ${line}`);
}

/** A command the demo runs now (`$ ...`). */
export function runs(command: string): void {
  write(`   $ ${command}`);
}

/** A config file of the demo, shown as the user would read it. @returns its path from the repo root. */
export function showConfig(relPath: string): string {
  write(`   ${relPath}:`);
  write(indent(readFileSync(join(REPO, relPath), 'utf8').trimEnd(), '     '));
  return relPath;
}

/** Commands for the user to try in another terminal. */
export function tryIt(commands: string[]): void {
  write('   try it yourself (another terminal, from the repository root, after the setup lines printed at the start):');
  for (const c of commands) write(`     ${c}`);
}

export function checked(n: number, claim: string): void {
  write(`   ✓ step ${n} checked: ${claim}`);
}

export function failed(n: number | 'setup', claim: string, evidence: string): void {
  const what = n === 'setup' ? 'setup failed' : `step ${n} failed`;
  process.stdout.write(`   ✗ ${what}: ${claim}\n${evidence ? `${indent(evidence.trimEnd(), '     │ ')}\n` : ''}`);
}

/** A line a background process printed, shown under its name. */
export function echoLine(name: string, line: string): void {
  if (line.trim()) write(`     [${name}] ${line}`);
}
