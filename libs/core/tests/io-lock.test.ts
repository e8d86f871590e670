import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LockedError, acquireLock, createLogger, currentProcess, readLockOwner, writerTag, type LockOwner } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = join(here, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'oodkit-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const lockPath = () => join(dir, `.case-${++counter}.lock`);

/** A pid that certainly ran on this host and has exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

function fakeLock(path: string, owner: Partial<LockOwner>): void {
  mkdirSync(path, { recursive: true });
  const me = currentProcess();
  const full = { ...me, token: 'fake.0', purpose: 'fake', command: 'fake', acquiredAt: new Date().toISOString(), ...owner };
  writeFileSync(join(path, 'owner.json'), JSON.stringify(full));
}

function recordingLogger(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', '', (line) => lines.push(line)), lines };
}

/** A child process that takes the lock, prints "locked" and then waits to be killed. */
function lockHolder(path: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `import { acquireLock } from ${JSON.stringify(join(workspace, 'libs/core/src/io/lock.ts'))};
await acquireLock(${JSON.stringify(path)}, { purpose: 'holder' });
process.stdout.write('locked\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: workspace,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked'))
        resolve({
          pid: child.pid!,
          kill: () =>
            new Promise((done) => {
              child.on('close', () => done());
              child.kill('SIGKILL');
            }),
        });
    });
  });
}

describe('acquireLock', () => {
  it('is exclusive: a second acquisition (same process included) is refused, naming the holder', async () => {
    const path = lockPath();
    const lock = await acquireLock(path, { purpose: 'results folder /r' });
    expect(readLockOwner(path)).toMatchObject({ pid: process.pid, host: currentProcess().host, purpose: 'results folder /r' });
    const refused = await acquireLock(path, { purpose: 'results folder /r' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockedError);
    expect((refused as Error).message).toMatch(
      new RegExp(`results folder /r is in use by another oodkit process \\(pid ${process.pid} on `),
    );
    await lock.release();
    expect(existsSync(path)).toBe(false);
    const again = await acquireLock(path);
    await again.release();
    await again.release(); // idempotent
    // nothing but the (released) lock's parent folder is left
    expect(readdirSync(dir).filter((n) => n.startsWith(`.case-${counter}`))).toEqual([]);
  });

  it('takes over at once, with a log line, the lock of a process killed with SIGKILL', async () => {
    const path = lockPath();
    const holder = await lockHolder(path);
    await expect(acquireLock(path)).rejects.toThrow(LockedError);
    await holder.kill();
    const { logger, lines } = recordingLogger();
    const t0 = Date.now();
    const lock = await acquireLock(path, { logger });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(lines.join('\n')).toMatch(new RegExp(`took over the lock .*: its owner \\(pid ${holder.pid} on .*\\) is no longer running`));
    expect(readLockOwner(path)?.pid).toBe(process.pid);
    await lock.release();
  });

  it('a pid that runs again as another process (other start time) or a reboot does not keep a lock', async () => {
    const reused = lockPath();
    fakeLock(reused, { pid: process.ppid, start: 't1' }); // our parent runs, but did not start at tick 1
    if (existsSync(`/proc/${process.ppid}/stat`)) {
      const lock = await acquireLock(reused);
      await lock.release();
    }
    const rebooted = lockPath();
    fakeLock(rebooted, { pid: process.pid, start: currentProcess().start, bootId: 'another-boot' });
    if (currentProcess().bootId) {
      const lock = await acquireLock(rebooted);
      await lock.release();
    }
    const gone = lockPath();
    fakeLock(gone, { pid: deadPid() });
    const lock = await acquireLock(gone);
    await lock.release();
  });

  it('a lock from another host is kept until its heartbeat is older than staleMs', async () => {
    const path = lockPath();
    fakeLock(path, { host: 'some-other-node', pid: 1, token: 'remote.1' });
    await expect(acquireLock(path, { staleMs: 60_000 })).rejects.toThrow(/in use by another oodkit process \(pid 1 on some-other-node/);
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(path, 'owner.json'), old, old);
    const { logger, lines } = recordingLogger();
    const lock = await acquireLock(path, { staleMs: 60_000, logger });
    expect(lines.join('\n')).toMatch(/on another host sent no heartbeat for 1[12]\d s/);
    await lock.release();
  });

  it('many processes taking over one dead lock at once: exactly one wins', async () => {
    const path = lockPath();
    fakeLock(path, { pid: deadPid() });
    const go = join(dir, `go-${counter}`);
    // Each child waits at a barrier (the go file) so that all four race for the stale lock together;
    // the winner keeps it (and lives) until the parent has every outcome.
    const script = `import { existsSync } from 'node:fs';
import { acquireLock } from ${JSON.stringify(join(workspace, 'libs/core/src/io/lock.ts'))};
process.stdout.write('ready\\n');
while (!existsSync(${JSON.stringify(go)})) {}
try { await acquireLock(${JSON.stringify(path)}); process.stdout.write('won\\n'); setInterval(() => {}, 1000); }
catch (e) { process.stdout.write(e.name + '\\n'); }`;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: workspace,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const lines = children.map(() => [] as string[]);
    let onLine: () => void = () => undefined;
    children.forEach((child, i) =>
      child.stdout.on('data', (c: Buffer) => {
        lines[i]!.push(...c.toString().split('\n').filter(Boolean));
        onLine();
      }),
    );
    const until = (done: () => boolean) =>
      new Promise<void>((resolve) => {
        onLine = () => done() && resolve();
        onLine();
      });
    try {
      await until(() => lines.every((l) => l.includes('ready')));
      writeFileSync(go, '');
      await until(() => lines.every((l) => l.length === 2));
      const outcomes = lines.map((l) => l[1]);
      expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'LockedError')).toHaveLength(3);
    } finally {
      for (const child of children) child.kill('SIGKILL');
    }
  }, 60_000);

  it('reports a lock taken away while held, and never removes a lock that is no longer its own', async () => {
    const path = lockPath();
    const reasons: string[] = [];
    const lock = await acquireLock(path, { refreshMs: 20, onCompromised: (r) => reasons.push(r) });
    rmSync(path, { recursive: true });
    fakeLock(path, { token: 'intruder.1' });
    await new Promise((r) => setTimeout(r, 100));
    expect(lock.compromised).toBe(true);
    expect(reasons).toEqual(['it was removed or taken over']);
    await lock.release();
    expect(readLockOwner(path)?.token).toBe('intruder.1');
  });

  it('removes the leftovers of lock operations of dead processes', async () => {
    const path = lockPath();
    const dead = writerTag({ ...currentProcess(), pid: deadPid(), start: 't5' });
    for (const kind of ['tmp', 'stale', 'released']) mkdirSync(`${path}.${dead}.abc123.${kind}`);
    const lock = await acquireLock(path);
    expect(readdirSync(dir).filter((n) => n.startsWith(`.case-${counter}.lock.`))).toEqual([]);
    await lock.release();
  });
});
