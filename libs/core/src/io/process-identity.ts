import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who a process is, precisely enough to tell later whether it still runs: a pid alone is reused
 * (in containers every job can be pid 1), so the pid comes with the host, the kernel's boot id and
 * the process start time. Locks and the temp files of atomic writes carry it.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly host: string;
  /** Linux `/proc/sys/kernel/random/boot_id`: differs after a reboot. null elsewhere. */
  readonly bootId: string | null;
  /**
   * Start time: `t<clock ticks since boot>` from `/proc/<pid>/stat` on Linux (readable for any pid,
   * so another process can compare it), else `m<ms since epoch>` (only this process knows it).
   */
  readonly start: string;
}

/** Field 22 of /proc/<pid>/stat (start time in ticks) and field 3 (state); undefined off Linux or when gone. */
function procStat(pid: number): { state: string; startTicks: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19];
  return state !== undefined && startTicks !== undefined && /^\d+$/.test(startTicks) ? { state, startTicks } : undefined;
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim() || null;
  } catch {
    return null;
  }
}

let current: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  if (!current) {
    const stat = procStat(process.pid);
    const start = stat ? `t${stat.startTicks}` : `m${Math.round(Date.now() - process.uptime() * 1000)}`;
    current = { pid: process.pid, host: hostname(), bootId: readBootId(), start };
  }
  return current;
}

/**
 * `alive`: that very process still runs on this host; `dead`: it certainly does not (pid gone, a
 * zombie, the pid reused by a later process, or the machine rebooted); `unknown`: it ran on another
 * host, whose processes this one cannot see.
 */
export type Liveness = 'alive' | 'dead' | 'unknown';

export function processLiveness(owner: Pick<ProcessIdentity, 'pid' | 'host'> & Partial<ProcessIdentity>): Liveness {
  const me = currentProcess();
  if (owner.host !== me.host) return 'unknown';
  if (owner.bootId && me.bootId && owner.bootId !== me.bootId) return 'dead';
  if (owner.pid === me.pid) return owner.start === undefined || owner.start === me.start ? 'alive' : 'dead';
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: the pid exists but belongs to another user — alive as far as we can tell.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  const stat = procStat(owner.pid);
  if (!stat) return 'alive'; // no /proc: the pid exists, its start time cannot be checked
  if (stat.state === 'Z' || stat.state === 'X') return 'dead';
  if (owner.start?.startsWith('t') && owner.start !== `t${stat.startTicks}`) return 'dead';
  return 'alive';
}

/**
 * `<pid>-<start>` (start in base 36): the writer tag in temp-file names, so a later run can tell
 * the leftovers of a dead writer from a write in progress.
 */
export function writerTag(identity: ProcessIdentity = currentProcess()): string {
  const kind = identity.start[0];
  return `${identity.pid}-${kind}${BigInt(identity.start.slice(1)).toString(36)}`;
}

/** Inverse of {@link writerTag} (host and boot id are this machine's: temp files carry no host). */
export function parseWriterTag(tag: string): { pid: number; start: string } | undefined {
  const match = /^(\d+)-([tm])([0-9a-z]+)$/.exec(tag);
  if (!match) return undefined;
  let value: bigint;
  try {
    value = [...match[3]!].reduce((acc, ch) => acc * 36n + BigInt(Number.parseInt(ch, 36)), 0n);
  } catch {
    return undefined;
  }
  return { pid: Number(match[1]), start: `${match[2]}${value}` };
}
