import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ExitCode, MirrordError } from '../errors.ts';
import { binaryWarnings, findProgram, inspectBinary } from './program-lookup.ts';

function expectCode(fn: () => unknown, exitCode: number, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MirrordError);
    assert.equal(err.exitCode, exitCode);
    assert.match(err.message, message);
    return true;
  });
}

test('PATH lookup as a shell does: 127 not found, 126 not executable, a later executable wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookup-'));
  try {
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'a', 'tool'), '#!/bin/sh\n');
    writeFileSync(join(dir, 'b', 'tool'), '#!/bin/sh\n');
    chmodSync(join(dir, 'b', 'tool'), 0o755);
    writeFileSync(join(dir, 'a', 'plain'), 'x');
    mkdirSync(join(dir, 'a', 'adir'));
    const path = `${join(dir, 'a')}:${join(dir, 'b')}`;
    assert.equal(findProgram('tool', path), join(dir, 'b', 'tool'));
    expectCode(() => findProgram('plain', path), ExitCode.notExecutable, /plain: permission denied/);
    expectCode(() => findProgram('missing', path), ExitCode.notFound, /missing: command not found/);
    expectCode(() => findProgram('adir', path), ExitCode.notFound, /adir: command not found/);
    expectCode(() => findProgram('./a/plain', path, dir), ExitCode.notExecutable, /permission denied/);
    expectCode(() => findProgram('./a', path, dir), ExitCode.notExecutable, /is a directory/);
    expectCode(() => findProgram('./nope', path, dir), ExitCode.notFound, /no such file/);
    expectCode(() => findProgram('', path), ExitCode.notFound, /empty/);
    assert.equal(findProgram('./b/tool', '', dir), join(dir, 'b', 'tool'));
    assert.equal(findProgram('sh', process.env.PATH), findProgram('sh', process.env.PATH));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ELF: a dynamic binary, a script, a static binary', () => {
  const sh = findProgram('sh', process.env.PATH);
  assert.deepEqual(inspectBinary(sh), { elf: true, static: false, go: false });
  assert.deepEqual(binaryWarnings(sh, inspectBinary(sh)), []);
  const dir = mkdtempSync(join(tmpdir(), 'elf-'));
  try {
    writeFileSync(join(dir, 'script'), '#!/bin/sh\necho\n');
    assert.deepEqual(inspectBinary(join(dir, 'script')), { elf: false, static: false, go: false });
    const src = join(dir, 's.c');
    writeFileSync(src, 'int main(void){return 0;}\n');
    let built = true;
    try {
      execFileSync('cc', ['-static', '-o', join(dir, 'static'), src], { stdio: 'ignore' });
    } catch {
      built = false;
    }
    if (built) {
      const kind = inspectBinary(join(dir, 'static'));
      assert.deepEqual(kind, { elf: true, static: true, go: false });
      assert.match(binaryWarnings(join(dir, 'static'), kind)[0], /\/static is statically linked: it cannot load the kubectl-mirrord layer/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Go: the .go.buildinfo section, found in a hand-made ELF', () => {
  const dir = mkdtempSync(join(tmpdir(), 'go-'));
  try {
    const file = join(dir, 'gobin');
    writeFileSync(file, fakeElf(['.text', '.go.buildinfo'], true));
    const kind = inspectBinary(file);
    assert.deepEqual(kind, { elf: true, static: false, go: true });
    assert.match(binaryWarnings(file, kind)[0], /gobin is a Go program: .* will NOT go through the cluster/);
    writeFileSync(file, fakeElf(['.text', '.note.go.buildid'], false));
    assert.deepEqual(inspectBinary(file), { elf: true, static: true, go: true });
    assert.match(binaryWarnings(file, inspectBinary(file))[0], /as a static binary it gets no remote files either/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A minimal ELF64 LE: header, one program header (PT_INTERP or PT_LOAD), section headers + shstrtab. */
function fakeElf(sections: string[], interp: boolean): Buffer {
  const names = ['', ...sections, '.shstrtab'];
  const strtab = Buffer.from(names.join('\0') + '\0');
  const phoff = 64;
  const strOff = phoff + 56;
  const shoff = strOff + strtab.length + ((8 - (strtab.length % 8)) % 8);
  const buf = Buffer.alloc(shoff + 64 * names.length);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2;
  buf[5] = 1;
  buf.writeBigUInt64LE(BigInt(phoff), 0x20);
  buf.writeBigUInt64LE(BigInt(shoff), 0x28);
  buf.writeUInt16LE(56, 0x36);
  buf.writeUInt16LE(1, 0x38);
  buf.writeUInt16LE(64, 0x3a);
  buf.writeUInt16LE(names.length, 0x3c);
  buf.writeUInt16LE(names.length - 1, 0x3e);
  buf.writeUInt32LE(interp ? 3 : 1, phoff);
  strtab.copy(buf, strOff);
  let nameOff = 0;
  names.forEach((name, i) => {
    const at = shoff + i * 64;
    buf.writeUInt32LE(nameOff, at);
    nameOff += Buffer.byteLength(name) + 1;
    if (i === names.length - 1) {
      buf.writeBigUInt64LE(BigInt(strOff), at + 0x18);
      buf.writeBigUInt64LE(BigInt(strtab.length), at + 0x20);
    }
  });
  return buf;
}
