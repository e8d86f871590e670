/** Every kind of component oodkit builds by name; one registry each. */
export const COMPONENT_KINDS = [
  'dataset',
  'preprocessor',
  'network',
  'trainer',
  'evaluator',
  'postprocessor',
  'pipeline',
  'recorder',
  'generator',
] as const;

export type ComponentKind = (typeof COMPONENT_KINDS)[number];

export function isComponentKind(value: string): value is ComponentKind {
  return (COMPONENT_KINDS as readonly string[]).includes(value);
}
