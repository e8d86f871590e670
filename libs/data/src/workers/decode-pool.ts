import { Worker } from 'node:worker_threads';
import type { DecodeOptions } from './decode.cjs';

interface Pending {
  resolve(out: Uint8Array): void;
  reject(error: DecodeFailure): void;
}

/** A failed image of a pool batch: its position in the batch and the decoder's message. */
export class DecodeFailure extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * worker_threads that run the sharp calls of image decoding, so the JS thread only posts paths and
 * receives transferred pixel buffers. Batches go to workers round-robin. Workers are unref'd (they
 * never keep the process alive); `close()` terminates them.
 */
export class DecodePool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextWorker = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(new URL('./decode-worker.cjs', import.meta.url));
      worker.unref();
      worker.on('message', (msg: { id: number; out?: Uint8Array; error?: { index: number; message: string } }) => {
        const job = this.pending.get(msg.id);
        if (!job) return;
        this.pending.delete(msg.id);
        if (msg.error) job.reject(new DecodeFailure(msg.error.index, msg.error.message));
        else job.resolve(msg.out!);
      });
      worker.on('error', (error) => this.failAll(error));
      return worker;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /** Pixels of `paths` (uint8 HWC of `shape`, back to back). */
  decode(paths: readonly string[], options: DecodeOptions, shape: readonly [number, number, number]): Promise<Uint8Array> {
    const id = this.nextId++;
    const worker = this.workers[this.nextWorker++ % this.workers.length];
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({
        id,
        paths,
        options: { imageSize: options.imageSize, preSize: options.preSize, resize: options.resize },
        shape: [...shape],
      });
    });
  }

  private failAll(error: Error): void {
    for (const [id, job] of this.pending) {
      this.pending.delete(id);
      job.reject(new DecodeFailure(-1, `decode worker failed: ${error.message}`));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
