import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanInterruptedWrites, currentProcess, writeFileAtomic, writeFileAtomicSync, writerTag } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'oodkit-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const temps = () => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('writeFileAtomic', () => {
  it('writes text, bytes and chunk lists, replacing the old content', async () => {
    const path = join(dir, 'a.txt');
    writeFileSync(path, 'old content that is longer');
    await writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    await writeFileAtomic(path, [Buffer.from('ab'), new Uint8Array([99, 100])]);
    expect(readFileSync(path, 'utf8')).toBe('abcd');
    writeFileAtomicSync(path, new Uint8Array([120]));
    expect(readFileSync(path, 'utf8')).toBe('x');
    expect(temps()).toEqual([]);
  });

  it('leaves the target untouched and no temp file when the write fails', async () => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'keep me');
    // A non-empty directory at the target makes the final rename fail after the temp file was written.
    const asDir = join(dir, 'isdir');
    mkdirSync(join(asDir, 'child'), { recursive: true });
    await expect(writeFileAtomic(asDir, 'data')).rejects.toThrow();
    expect(() => writeFileAtomicSync(asDir, 'data')).toThrow();
    expect(readFileSync(path, 'utf8')).toBe('keep me');
    expect(temps()).toEqual([]);
  });

  it('concurrent writers: the file is always one complete version', async () => {
    const path = join(dir, 'race.bin');
    const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64 * 1024, i));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    const final = readFileSync(path);
    expect(final.length).toBe(64 * 1024);
    expect(versions.some((v) => v.equals(final))).toBe(true);
    expect(temps()).toEqual([]);
  });
});

describe('cleanInterruptedWrites', () => {
  it('removes the temp files of dead writers (old and new names, in subfolders) and nothing else', () => {
    const root = join(dir, 'clean');
    mkdirSync(join(root, 'checkpoints'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const reusedPid = writerTag({ ...currentProcess(), pid: process.ppid, start: 't1' }); // parent runs, started later
    const files = {
      legacyDead: join(root, 'checkpoints', `.last.ckpt.${dead}.3.tmp`),
      taggedDead: join(root, `.summary.json.${writerTag({ ...currentProcess(), pid: dead })}.1.tmp`),
      reused: join(root, `.report.html.${reusedPid}.2.tmp`),
      own: join(root, `.train.json.${writerTag()}.9.tmp`),
      legacyAlive: join(root, `.config.yml.${process.ppid}.1.tmp`),
      notTemp: join(root, 'checkpoints', 'last.ckpt'),
      lookalike: join(root, 'notes.tmp'),
    };
    for (const f of Object.values(files)) writeFileSync(f, 'x');
    const removed = cleanInterruptedWrites(root).sort();
    const expected = [files.legacyDead, files.taggedDead, ...(process.platform === 'linux' ? [files.reused] : [])].sort();
    expect(removed).toEqual(expected);
    const left = Object.values(files).filter((f) => !expected.includes(f));
    for (const f of left) expect(readFileSync(f, 'utf8')).toBe('x');
  });
});
