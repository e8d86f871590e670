import { afterEach, beforeEach, vi } from 'vitest';

/** Registers hooks that capture what each test writes to stdout/stderr into the returned object (reset per test; a test may clear it). */
export function captureOutput(): { out: string; err: string } {
  const io = { out: '', err: '' };
  beforeEach(() => {
    io.out = '';
    io.err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      io.out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      io.err += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return io;
}
