/**
 * @deprecated The postprocessor lifecycle moved to `../lifecycle/`; this path re-exports it for
 * one release so methods written against it keep compiling. Import from `../lifecycle/index.js`
 * (inside this library) or from `@oodkit/postprocessors`.
 */
export * from '../lifecycle/base-postprocessor.js';
