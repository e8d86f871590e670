import { Worker } from 'node:worker_threads';

/*
 * Threads for oodkit's SIMD kernels. In the threaded wasm build the backend's memory is shared, so
 * a worker can instantiate the same kernels on it and work on the same tensors in place. A call
 * hands each worker its own argument list (a slice of the job, e.g. a range of output channels),
 * runs the first slice on the calling thread and waits for the rest: kernels stay synchronous, as
 * tfjs requires. Synchronisation is a generation counter and a done counter in a SharedArrayBuffer
 * (Atomics.wait/notify), so a call costs microseconds, not a message round trip.
 */

const MAX_ARGS = 30;
/** Longest a worker's share may take (the largest real calls take seconds). */
const STALL_MS = 600_000;
const SLOT = MAX_ARGS + 2; // [kernel id, arg count, args...]
/** Environment variable (tests): each worker starts late and takes up to this many ms to pick up a share. */
export const LATE_WORKERS_ENV = 'OODKIT_KERNEL_POOL_LATE_MS';

const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, control, args, index, names, lateMs } = workerData;
// Test hook (OODKIT_KERNEL_POOL_LATE_MS): a worker that starts late and picks up its shares late, as a
// descheduled thread on a loaded machine does. Results must not change (docs/decisions.md).
const nap = new Int32Array(new SharedArrayBuffer(4));
const late = (k) => { if (lateMs > 0) Atomics.wait(nap, 0, 0, ((k * 7 + index * 3) % 5) * lateMs / 4); };
late(1);
const instance = new WebAssembly.Instance(module, { env: { memory } });
const fns = names.map((n) => instance.exports[n]);
const ctrl = new Int32Array(control);
const a = new Float64Array(args);
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  const base = index * ${SLOT};
  const id = a[base];
  late(seen);
  if (id >= 0) {
    try {
      fns[id](...a.subarray(base + 2, base + 2 + a[base + 1]));
    } catch (error) {
      Atomics.store(ctrl, 2 + index, 1);
    }
  }
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}
`;

export class KernelPool {
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private stalled = false;

  private constructor(
    private readonly names: readonly string[],
    private readonly workers: Worker[],
    control: SharedArrayBuffer,
    args: SharedArrayBuffer,
  ) {
    this.ctrl = new Int32Array(control);
    this.args = new Float64Array(args);
  }

  /** Starts `workers` threads running the kernels of `module` on `memory`; resolves when they are ready. */
  static async start(module: object, memory: object, names: readonly string[], workers: number, lateMs = 0): Promise<KernelPool> {
    const control = new SharedArrayBuffer(4 * (2 + workers));
    const args = new SharedArrayBuffer(8 * SLOT * workers);
    const threads = Array.from(
      { length: workers },
      (_, index) => new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, args, index, names, lateMs } }),
    );
    await Promise.all(
      threads.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('error', reject);
          }),
      ),
    );
    // Idle workers block in Atomics.wait; they must not keep the process alive.
    for (const w of threads) w.unref();
    return new KernelPool(names, threads, control, args);
  }

  /** Threads a job can be split across (the workers plus the calling thread). */
  get size(): number {
    return this.workers.length + 1;
  }

  /**
   * Runs kernel `name` once per argument list: shares[0] on this thread, the others on workers
   * (at most size − 1 of them), and returns when all are done.
   */
  run(call: (...args: number[]) => void, name: string, shares: number[][]): void {
    if (this.stalled) throw new Error(`oodkit SIMD kernel ${name}: the kernel pool stalled earlier in this process`);
    const id = this.names.indexOf(name);
    if (id < 0) throw new Error(`kernel pool: unknown kernel '${name}'`);
    if (shares.length > this.size) throw new Error(`kernel pool: ${shares.length} shares for ${this.size} threads`);
    const n = this.workers.length;
    for (let w = 0; w < n; w++) {
      const share = shares[w + 1];
      const base = w * SLOT;
      if (share && share.length > MAX_ARGS) throw new Error(`kernel pool: ${name} has more than ${MAX_ARGS} arguments`);
      this.args[base] = share ? id : -1;
      this.args[base + 1] = share ? share.length : 0;
      if (share) this.args.set(share, base + 2);
    }
    Atomics.store(this.ctrl, 1, 0);
    Atomics.add(this.ctrl, 0, 1);
    Atomics.notify(this.ctrl, 0);
    try {
      call(...shares[0]!);
    } finally {
      // Even when this thread's share threw (a wasm trap): returning before the workers finish would
      // let the next call reset the done count under them and overwrite arguments they still read.
      this.waitForWorkers(name, n);
    }
    for (let w = 0; w < n; w++) {
      if (Atomics.exchange(this.ctrl, 2 + w, 0)) throw new Error(`oodkit SIMD kernel ${name} failed on worker ${w + 1}`);
    }
  }

  private waitForWorkers(name: string, n: number): void {
    // A worker that never reports would block this thread for good (nothing else can run while it
    // waits), so a share that takes longer than any real kernel call is an error, not a wait.
    const deadline = Date.now() + STALL_MS;
    for (let done = Atomics.load(this.ctrl, 1); done < n; done = Atomics.load(this.ctrl, 1)) {
      if (Atomics.wait(this.ctrl, 1, done, Math.max(1, deadline - Date.now())) === 'timed-out' && Date.now() >= deadline) {
        this.stalled = true; // a late worker would corrupt the next call's done count
        throw new Error(`oodkit SIMD kernel ${name}: a worker did not finish within ${STALL_MS / 1000} s (kernel pool stalled)`);
      }
    }
  }
}
