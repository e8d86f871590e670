import { describe, expect, it } from 'vitest';
import { initCompute } from '../src/index.js';

describe('process-wide handlers', () => {
  it('starting wasm leaves no emscripten uncaughtException/unhandledRejection handler behind', async () => {
    const before = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
    await initCompute({ backend: 'wasm' });
    expect([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')]).toEqual(before);
  });
});
