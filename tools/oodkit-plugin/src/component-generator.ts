import {
  generateFiles,
  installPackagesTask,
  joinPathFragments,
  names,
  offsetFromRoot,
  type GeneratorCallback,
  type Tree,
} from '@nx/devkit';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLUGIN_KINDS = ['postprocessor', 'trainer', 'network', 'dataset'] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

export interface ComponentGeneratorSchema {
  /** Registered name; `-` becomes `_` in the registry (OpenOOD-style names like `temp_scaling`). */
  name: string;
  /** Folder of the new package, relative to the workspace root (default `plugins/<name>`). */
  directory?: string;
  description?: string;
  skipInstall?: boolean;
}

/** The oodkit libraries each kind's package imports (beside @oodkit/core). */
const LIBS: Record<PluginKind, string[]> = {
  postprocessor: ['compute', 'postprocessors'],
  trainer: ['compute', 'trainers'],
  network: ['compute', 'networks'],
  dataset: [],
};

const DESCRIPTIONS: Record<PluginKind, string> = {
  postprocessor: 'TODO: one line on what the score measures',
  trainer: 'TODO: one line on the training loss',
  network: 'TODO: one line on the architecture',
  dataset: 'TODO: one line on the images',
};

const NAME = /^[a-z][a-z0-9_-]*$/;

/** Versions the generated package.json pins, read from the workspace's own packages. */
function versionOf(tree: Tree, path: string, dep?: string): string {
  const pkg = JSON.parse(tree.read(path, 'utf-8') ?? '{}') as { version?: string; dependencies?: Record<string, string> };
  const version = dep ? pkg.dependencies?.[dep] : pkg.version;
  if (!version)
    throw new Error(
      `@oodkit/nx-plugin: cannot read the version of ${dep ?? path} from ${path} (run the generator at the oodkit workspace root)`,
    );
  return version;
}

export interface GeneratedPlugin {
  projectRoot: string;
  packageName: string;
  registeredName: string;
  configFile: string;
}

/** Pure file generation (no install), shared by the four generators and the tests. */
export function writeComponentPlugin(tree: Tree, kind: PluginKind, options: ComponentGeneratorSchema): GeneratedPlugin {
  if (!NAME.test(options.name)) {
    throw new Error(
      `@oodkit/nx-plugin: invalid ${kind} name '${options.name}': use lower case letters, digits, '_' or '-', starting with a letter`,
    );
  }
  const n = names(options.name);
  const registeredName = options.name.replace(/-/g, '_');
  const projectRoot = (options.directory ?? joinPathFragments('plugins', n.fileName)).replace(/\/+$/, '');
  if (tree.exists(joinPathFragments(projectRoot, 'package.json')))
    throw new Error(`@oodkit/nx-plugin: ${projectRoot} already holds a package`);
  const packageName = `@oodkit/plugin-${n.fileName}`;
  const offset = offsetFromRoot(projectRoot);
  const libs = LIBS[kind];
  const coreVersion = versionOf(tree, 'libs/core/package.json');
  const dependencies: Record<string, string> = { '@oodkit/core': coreVersion };
  for (const lib of libs) dependencies[`@oodkit/${lib}`] = versionOf(tree, `libs/${lib}/package.json`);
  if (kind === 'postprocessor')
    dependencies['@tensorflow/tfjs-core'] = versionOf(tree, 'libs/postprocessors/package.json', '@tensorflow/tfjs-core');
  dependencies['zod'] = versionOf(tree, 'libs/core/package.json', 'zod');
  const sorted = Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b)));
  const substitutions = {
    tmpl: '',
    kind,
    name: registeredName,
    fileName: n.fileName,
    className: n.className,
    propertyName: n.propertyName,
    packageName,
    projectRoot,
    offset,
    description: options.description ?? DESCRIPTIONS[kind],
    dependencies: JSON.stringify(sorted, null, 2).replace(/\n/g, '\n  '),
    references: JSON.stringify(['core', ...libs].map((lib) => ({ path: `${offset}libs/${lib}/tsconfig.lib.json` }))),
  };
  const here = dirname(fileURLToPath(import.meta.url));
  const files = join(here, '..', 'files');
  generateFiles(tree, join(files, 'common'), projectRoot, substitutions);
  generateFiles(tree, join(files, kind), projectRoot, substitutions);
  generateFiles(tree, join(files, 'config', kind), 'configs/plugins', substitutions);
  return { projectRoot, packageName, registeredName, configFile: `configs/plugins/${n.fileName}.yml` };
}

/** Whether npm's `workspaces` patterns (only `dir`, `dir/*` forms) cover `projectRoot`. */
export function inWorkspaces(tree: Tree, projectRoot: string): boolean {
  const pkg = JSON.parse(tree.read('package.json', 'utf-8') ?? '{}') as { workspaces?: string[] | { packages?: string[] } };
  const patterns = Array.isArray(pkg.workspaces) ? pkg.workspaces : (pkg.workspaces?.packages ?? []);
  return patterns.some((p) => (p.endsWith('/*') ? dirname(projectRoot) === p.slice(0, -2) : projectRoot === p));
}

function makeGenerator(kind: PluginKind) {
  return async function generator(tree: Tree, options: ComponentGeneratorSchema): Promise<GeneratorCallback> {
    const made = writeComponentPlugin(tree, kind, options);
    if (!inWorkspaces(tree, made.projectRoot)) {
      console.warn(
        `\nwarning: ${made.projectRoot} is not matched by the root package.json "workspaces": npm will not link ${made.packageName}; add the folder there, or name it by path in plugins: [...]`,
      );
    }
    return () => {
      // The package joins the npm workspace (plugins/*) only once npm links it into node_modules.
      if (!options.skipInstall) installPackagesTask(tree, true);
      console.log(
        `\n${kind} '${made.registeredName}' scaffolded in ${made.projectRoot} (package ${made.packageName}).\n` +
          `  npx vitest run --project plugin-${names(options.name).fileName}     # fails until you implement it\n` +
          `  npx oodkit list ${kind} --config ${made.configFile}\n`,
      );
    };
  };
}

export const postprocessorGenerator = makeGenerator('postprocessor');
export const trainerGenerator = makeGenerator('trainer');
export const networkGenerator = makeGenerator('network');
export const datasetGenerator = makeGenerator('dataset');
