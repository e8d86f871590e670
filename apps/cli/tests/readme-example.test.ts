import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cli from '../src/index.js';

/**
 * Runs README's "Evaluate your model from code" block as written: the block after the
 * `<!-- readme-example: createEvaluator -->` marker, with its `import` line bound to this package's
 * exports (the only change), from the repository root as the README says.
 */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(new URL('README.md', `file://${repoRoot}`), 'utf8');

function exampleBlock(): string {
  const marker = readme.indexOf('<!-- readme-example: createEvaluator -->');
  if (marker < 0) throw new Error('README.md has no readme-example marker');
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (!match) throw new Error('no ```ts block after the readme-example marker');
  return match[1]!;
}

describe("README's createEvaluator example", () => {
  const cwd = process.cwd();
  beforeAll(() => process.chdir(repoRoot));
  afterAll(() => process.chdir(cwd));

  it('runs as written and prints OpenOOD’s table (ODIN with APS on the PyTorch LeNet)', async () => {
    const code = exampleBlock();
    const imports = /^import \{ createEvaluator \} from '@oodkit\/cli';\n/m;
    expect(code).toMatch(imports);
    const body = code.replace(imports, '');
    const tables: unknown[] = [];
    const fakeConsole = { table: (t: unknown) => tables.push(t), log: () => undefined };
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    await new AsyncFunction('createEvaluator', 'console', body)(cli.createEvaluator, fakeConsole);
    expect(tables).toHaveLength(1);
    const rows = tables[0] as { dataset: string; AUROC: number; ACC: number }[];
    expect(rows.map((r) => r.dataset)).toEqual(['centre', 'pair', 'nearood', 'noise', 'colour', 'farood']);
    const reference = JSON.parse(readFileSync(new URL('./fixtures/openood-lenet/reference.json', import.meta.url), 'utf8')) as {
      methods: { odin: { rows: Record<string, { ACC: number }> } };
    };
    for (const row of rows) {
      expect(row.AUROC).toBeGreaterThanOrEqual(0);
      expect(row.ACC).toBeCloseTo(reference.methods.odin.rows.nearood!.ACC, 9);
    }
  }, 180_000);
});
