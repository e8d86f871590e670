/**
 * Fetches public benchmark data for users with internet access (never run by tests or CI):
 *
 *   npx tsx tools/download/download.ts --benchmark cifar10 [--benchmark imagenet200] [--data-dir ./data] [--dry-run]
 *   npx tsx tools/download/download.ts --archive cifar10-binary [--archive cifar100-binary]
 *
 * `--benchmark` mirrors OpenOOD's download script: the image lists (benchmark_imglist) plus every
 * image set the benchmark uses, from the same Google Drive files, unpacked into OpenOOD's layout
 * (<data-dir>/benchmark_imglist, <data-dir>/images_classic/<set>, <data-dir>/images_largescale/<set>)
 * that configs/benchmarks/*.yml expect. `--archive` fetches the original CIFAR binary batches
 * (for the cifar_binary dataset). The embedded mnist benchmark needs none of this.
 *
 * Downloads go to `<file>.part` and are renamed when complete; a set counts as installed once its
 * `.oodkit-complete` marker exists (written last), so an interrupted run resumes cleanly.
 * Zip archives are unpacked with the system's `unzip` (or `tar`, which reads zip on macOS/Windows).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

/** Google Drive file ids published by OpenOOD (scripts/download/download.py). */
const DRIVE_IDS: Record<string, string> = {
  benchmark_imglist: '1lI1j0_fDDvjIt9JlWAw09X8ks-yrR_H1',
  mnist: '1CCHAGWqA1KJTFFswuF9cbhmB-j98Y1Sb',
  fashionmnist: '1nVObxjUBmVpZ6M0PPlcspsMMYHidUMfa',
  notmnist: '16ueghlyzunbksnc_ccPgEAloRW9pKO-K',
  cifar10: '1Co32RiiWe16lTaiOU6JMMnyUYS41IlO1',
  cifar100: '1PGKheHUsf29leJPPGuXqzLBMwl8qMF8_',
  tin: '1PZ-ixyx52U989IKsMA2OT-24fToTrelC',
  tin597: '1R0d8zBcUxWNXz6CPXanobniiIfQbpKzn',
  svhn: '1DQfc11HOtB1nEwqS4pWUFp8vtQ3DczvI',
  texture: '1OSz1m3hHfVWbRdmMwKbUzoU8Hg9UKcam',
  places365: '1Ec-LRSTf6u5vEctKX9vRp9OA6tqnJ0Ay',
  imagenet_1k: '1i1ipLDFARR-JZ9argXd2-0a6DXwVhXEj',
  ssb_hard: '1PzkA-WGG8Z18h0ooL_pDdz9cO-DCIouE',
  ninco: '1Z82cmvIB0eghTehxOGP5VTdLt7OD3nk6',
  inaturalist: '1zfLfMvoUD0CUlKNnkk7LgxZZBnTBipdj',
  openimage_o: '1VUFXnB_z70uHfdgJG2E_pjYOcEgqM7tE',
  imagenet_v2: '1akg2IiE22HcbvTBpwXQoD7tgfPCdkoho',
  imagenet_c: '1JeXL9YH4BO8gCJ631c5BHbaSsl-lekHt',
  imagenet_r: '1EzjMN2gq-bVV7lg-MEAdeuBuz-7jbGYU',
};

const LARGESCALE = new Set(['imagenet_1k', 'ssb_hard', 'ninco', 'inaturalist', 'openimage_o', 'imagenet_v2', 'imagenet_c', 'imagenet_r']);

/** Image sets per benchmark, as OpenOOD's script groups them. */
const BENCHMARK_SETS: Record<string, string[]> = {
  mnist: ['mnist', 'notmnist', 'fashionmnist', 'texture', 'cifar10', 'tin', 'places365'],
  cifar10: ['cifar10', 'cifar100', 'tin', 'mnist', 'svhn', 'texture', 'places365', 'tin597'],
  cifar100: ['cifar100', 'cifar10', 'tin', 'svhn', 'texture', 'places365', 'tin597'],
  imagenet200: ['imagenet_1k', 'ssb_hard', 'ninco', 'inaturalist', 'texture', 'openimage_o', 'imagenet_v2', 'imagenet_c', 'imagenet_r'],
};

/** Original CIFAR binary batches (University of Toronto). */
const ARCHIVES: Record<string, { url: string; folder: string }> = {
  'cifar10-binary': { url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', folder: 'cifar-10-batches-bin' },
  'cifar100-binary': { url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', folder: 'cifar-100-binary' },
};

const { values: opts } = parseArgs({
  options: {
    benchmark: { type: 'string', multiple: true, default: [] },
    archive: { type: 'string', multiple: true, default: [] },
    'data-dir': { type: 'string', default: './data' },
    'dry-run': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`download: ${message}\n`);
  process.exit(2);
}

const dataDir = path.resolve(opts['data-dir']!);
const dryRun = opts['dry-run']!;
if (opts.help || (opts.benchmark!.length === 0 && opts.archive!.length === 0)) {
  process.stdout.write(
    `usage: tsx tools/download/download.ts [--benchmark ${Object.keys(BENCHMARK_SETS).join('|')}]... [--archive ${Object.keys(ARCHIVES).join('|')}]... [--data-dir ./data] [--dry-run]\n`,
  );
  process.exit(opts.help ? 0 : 2);
}
for (const b of opts.benchmark!) if (!BENCHMARK_SETS[b]) fail(`unknown benchmark '${b}'; known: ${Object.keys(BENCHMARK_SETS).join(', ')}`);
for (const a of opts.archive!) if (!ARCHIVES[a]) fail(`unknown archive '${a}'; known: ${Object.keys(ARCHIVES).join(', ')}`);

async function fetchTo(url: string, file: string): Promise<void> {
  const response = await fetch(url, { redirect: 'follow' });
  if (!response.ok || !response.body) throw new Error(`GET ${url}: HTTP ${response.status}`);
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('text/html'))
    throw new Error(
      `GET ${url}: got an HTML page instead of a file (Drive quota or a changed link); try again later or download it by hand`,
    );
  const part = `${file}.part`;
  await pipeline(Readable.fromWeb(response.body as never), createWriteStream(part));
  renameSync(part, file);
}

function unpack(archive: string, into: string): void {
  mkdirSync(into, { recursive: true });
  const zip = archive.endsWith('.zip');
  const attempts: [string, string[]][] = zip
    ? [
        ['unzip', ['-q', '-o', archive, '-d', into]],
        ['tar', ['-xf', archive, '-C', into]],
      ]
    : [['tar', ['-xzf', archive, '-C', into]]];
  for (const [cmd, args] of attempts) {
    const result = spawnSync(cmd, args, { stdio: 'inherit' });
    if (result.status === 0) return;
  }
  throw new Error(`cannot unpack ${archive}: install 'unzip' (or a tar that reads ${zip ? 'zip' : 'tar.gz'})`);
}

async function install(name: string, url: string, folder: string, archiveName: string): Promise<void> {
  const marker = path.join(folder, '.oodkit-complete');
  if (existsSync(marker)) {
    console.log(`${name}: already installed in ${folder}`);
    return;
  }
  console.log(`${name}: ${url}\n  → ${folder}`);
  if (dryRun) return;
  mkdirSync(folder, { recursive: true });
  const archive = path.join(folder, archiveName);
  await fetchTo(url, archive);
  unpack(archive, folder);
  rmSync(archive, { force: true });
  writeFileSync(marker, `${new Date().toISOString()} ${url}\n`);
}

const driveUrl = (id: string) => `https://drive.usercontent.google.com/download?id=${id}&export=download&confirm=t`;

try {
  if (opts.benchmark!.length > 0) {
    await install('benchmark_imglist', driveUrl(DRIVE_IDS.benchmark_imglist), dataDir, 'benchmark_imglist.zip');
    const sets = [...new Set(opts.benchmark!.flatMap((b) => BENCHMARK_SETS[b]))];
    for (const set of sets) {
      const folder = path.join(dataDir, LARGESCALE.has(set) ? 'images_largescale' : 'images_classic', set);
      await install(set, driveUrl(DRIVE_IDS[set]), folder, `${set}.zip`);
    }
  }
  for (const a of opts.archive!) {
    const { url, folder } = ARCHIVES[a];
    await install(a, url, path.join(dataDir, a), path.basename(url));
    console.log(`  batches in ${path.join(dataDir, a, folder)}`);
  }
} catch (error) {
  fail((error as Error).message);
}
