import nx from '@nx/eslint-plugin';

// Which stage may import which: the architecture, enforced. A lib may depend only on the stages
// listed for its scope tag (e.g. postprocessors never import trainers).
const allowed = {
  'scope:core': [],
  'scope:compute': ['scope:core'],
  'scope:data': ['scope:core', 'scope:compute'],
  'scope:networks': ['scope:core', 'scope:compute'],
  'scope:postprocessors': ['scope:core', 'scope:compute'],
  'scope:trainers': ['scope:core', 'scope:compute', 'scope:networks', 'scope:data'],
  'scope:evaluators': ['scope:core', 'scope:compute', 'scope:data', 'scope:postprocessors'],
  'scope:sio': ['scope:core', 'scope:compute', 'scope:data', 'scope:networks', 'scope:trainers'],
  'scope:pipelines': [
    'scope:core',
    'scope:compute',
    'scope:data',
    'scope:networks',
    'scope:trainers',
    'scope:postprocessors',
    'scope:evaluators',
    'scope:sio',
  ],
  'scope:plugin': ['scope:core', 'scope:compute', 'scope:data', 'scope:networks', 'scope:postprocessors', 'scope:trainers'],
  'scope:tools': ['*'],
  'scope:app': ['*'],
};

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/dist', '**/node_modules', '**/.cache', '**/results', '**/*.d.ts', '**/vite.config.*.timestamp*'],
  },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.js', '**/*.mjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          depConstraints: Object.entries(allowed).map(([sourceTag, tags]) => ({
            sourceTag,
            onlyDependOnLibsWithTags: tags,
          })),
        },
      ],
    },
  },
  {
    // typescript-eslint's rules exist only where its plugin is configured: TypeScript files.
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
];
