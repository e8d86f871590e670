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

  it('lists the fields of every nested mapping, each alternative of a union of mappings included', async () => {
    const text = await renderConfigReference();
    expect(text).toContain('| `sio.synthetic` | {images, labels} \\| {name, args, count} | required |');
    for (const key of ['sio.synthetic.images', 'sio.synthetic.labels', 'sio.synthetic.name', 'sio.synthetic.args', 'sio.synthetic.count'])
      expect(text).toContain(`| \`${key}\` |`);
    expect(text).toContain('| `bench.postprocessors.*.aps` | boolean |');
    expect(text).toContain('| `benchmark.ood.far.*.dataset.args` | mapping |');
    // no section row says only "mapping" for something that has fields
    const sections = text.slice(0, text.indexOf('## Components'));
    const bare = sections.split('\n').filter((line) => /^\| `[^`]+` \| mapping \|/.test(line) && !/own arguments/.test(line));
    expect(bare).toEqual([]);
  });
});
