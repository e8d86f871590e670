/**
 * Vitest global setup: every test run gets a private temp folder (TMPDIR/TMP/TEMP point at it, so
 * `os.tmpdir()` in the test processes and in the CLI processes they spawn lands there), and the run
 * fails if a test left anything in it. The folder is removed afterwards either way, so nothing of a run
 * stays in the system temp folder even when a new test forgets its `afterAll` clean-up, and other
 * sessions' files in the shared /tmp never make this check flaky.
 *
 * Tool caches that are not test output are allowed: tsx's transform cache (`tsx-<uid>`, from spawned
 * `oodkit` processes) and oodkit's content-addressed wasm worker script (`oodkit-wasm`).
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TOOL_CACHES = [/^tsx-\d+$/, /^oodkit-wasm$/];

export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => !TOOL_CACHES.some((pattern) => pattern.test(name)));
}

export default function setup(): () => void {
  const system = tmpdir();
  const dir = mkdtempSync(join(system, 'oodkit-test-run-'));
  // Traversable by other users, so a test can run the CLI as an unprivileged user on files it made here.
  chmodSync(dir, 0o755);
  const previous = { TMPDIR: process.env.TMPDIR, TMP: process.env.TMP, TEMP: process.env.TEMP };
  process.env.TMPDIR = process.env.TMP = process.env.TEMP = dir;
  return () => {
    const left = leftovers(dir);
    rmSync(dir, { recursive: true, force: true });
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    if (left.length > 0) {
      // vitest reports an error thrown here but keeps exit code 0: set it, so CI fails.
      process.exitCode = 1;
      throw new Error(
        `tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the temp folder: ${left.slice(0, 10).join(', ')}` +
          ' — remove what a test creates in afterAll/finally (the folder has been deleted)',
      );
    }
  };
}
