import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REFERENCE_FILE, renderConfigReference } from '../config-reference.js';

describe('docs/config-reference.md', () => {
  it('is what the registered schemas generate (run `npm run docs:config` when this fails)', async () => {
    const generated = await renderConfigReference();
    const committed = readFileSync(REFERENCE_FILE, 'utf8');
    // Compare line by line first: the first differing line says what changed.
    const a = committed.split('\n');
    const b = generated.split('\n');
    const first = b.findIndex((line, i) => line !== a[i]);
    expect(first === -1 ? null : { line: first + 1, committed: a[first], generated: b[first] }).toBeNull();
    expect(committed).toBe(generated);
  });

  it('documents every section, every component with its args, and the grids', async () => {
    const text = await renderConfigReference();
    for (const heading of [
      '### `plugins`',
      '### `bench`',
      '#### postprocessor `msp`',
      '#### postprocessor `neco`',
      '#### network `lenet`',
      '#### trainer `base`',
    ])
      expect(text).toContain(heading);
    expect(text).toMatch(/\| `dim` \| integer \| `100` \| > 0 \|/);
    expect(text).toMatch(/Search grid: `dim` ∈ \{10, 50, 100, 200, 300, 400, 500\}/);
    expect(text).not.toMatch(/\/work\/|\/tmp\//); // no machine-specific paths
  });
});
