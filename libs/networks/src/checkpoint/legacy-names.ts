/**
 * Parameter names oodkit used before its networks took OpenOOD v1.5's state_dict names, so checkpoints
 * oodkit wrote earlier still restore. network name → old name → current name.
 */
const RENAMED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  lenet: {
    'classifier.0.weight': 'classifier1.weight',
    'classifier.0.bias': 'classifier1.bias',
    'classifier.2.weight': 'fc.weight',
    'classifier.2.bias': 'fc.bias',
  },
};

/** `stored` with old parameter names of `networkName` replaced by the current ones (same map when none apply). */
export function upgradeParameterNames<T>(networkName: string, stored: ReadonlyMap<string, T>): ReadonlyMap<string, T> {
  const renamed = RENAMED[networkName];
  if (!renamed || ![...stored.keys()].some((k) => k in renamed)) return stored;
  return new Map([...stored].map(([k, v]) => [renamed[k] ?? k, v]));
}
