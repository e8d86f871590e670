/**
 * Builds libs/compute/csrc/*.c (one file per kernel family, kernels.h shared) into the two binaries
 * libs/compute loads:
 * oodkit-kernels.wasm (plain imported memory, tfjs's single-threaded build) and
 * oodkit-kernels-shared.wasm (shared memory, the threaded build). Needs Debian's clang, lld and
 * wabt (`apt-get install clang lld wabt`). The binaries are committed so users need no compiler;
 * `--check` rebuilds into a temp folder and fails if the committed binaries differ (CI runs it).
 *
 * Each binary is rejected if it has a data segment or touches a global (the shadow-stack pointer):
 * both would live at fixed addresses inside tfjs's heap, which the kernels share.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const csrc = path.join(root, 'libs/compute/csrc');
// Sorted, so the link order (and the committed bytes `--check` compares) does not depend on the file system.
const sources = readdirSync(csrc)
  .filter((f) => f.endsWith('.c'))
  .sort()
  .map((f) => path.join(csrc, f));
const assets = path.join(root, 'libs/compute/assets');
const check = process.argv.includes('--check');

const common = [
  '--target=wasm32',
  '-O3',
  '-msimd128',
  '-mbulk-memory',
  '-nostdlib',
  '-ffreestanding',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-Wl,--no-entry',
  '-Wl,--import-memory',
  '-Wl,--strip-debug',
];
const variants = [
  { file: 'oodkit-kernels.wasm', flags: [] },
  { file: 'oodkit-kernels-shared.wasm', flags: ['-matomics', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296'] },
];

function tool(name) {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
  } catch {
    console.error(`${name} not found: install Debian's clang, lld and wabt (apt-get install clang lld wabt)`);
    process.exit(2);
  }
}
tool('clang');
tool('wasm2wat');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'oodkit-kernels-'));
let stale = 0;
try {
  for (const v of variants) {
    const out = path.join(tmp, v.file);
    execFileSync('clang', [...common, ...v.flags, '-o', out, ...sources], { stdio: 'inherit' });
    const wat = execFileSync('wasm2wat', ['--enable-threads', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (/\(data\b/.test(wat)) throw new Error(`${v.file}: has a data segment (static data would overlap tfjs's heap)`);
    if (/global\.(get|set)\b/.test(wat)) throw new Error(`${v.file}: uses a global (the shadow stack would overlap tfjs's heap)`);
    const bytes = readFileSync(out);
    const target = path.join(assets, v.file);
    if (check) {
      let committed;
      try {
        committed = readFileSync(target);
      } catch {
        committed = undefined;
      }
      if (!committed || !committed.equals(bytes)) {
        console.error(`${path.relative(root, target)} is stale: run npm run build:kernels and commit it`);
        stale++;
      } else console.log(`${path.relative(root, target)} matches its source (${bytes.length} bytes)`);
    } else {
      const part = `${target}.${process.pid}.tmp`;
      writeFileSync(part, bytes);
      renameSync(part, target);
      console.log(`wrote ${path.relative(root, target)} (${bytes.length} bytes)`);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(stale ? 1 : 0);
