/** The onnxruntime-node module, loaded on first use so that nothing else pays for its native binding. */
export type OnnxRuntimeModule = typeof import('onnxruntime-node');

let ortModule: Promise<OnnxRuntimeModule> | undefined;

/** onnxruntime-node, imported once per process (with its telemetry off). */
export function loadOnnxRuntime(): Promise<OnnxRuntimeModule> {
  // onnxruntime's Linux build (1.30) starts a telemetry client that writes session files to the temp
  // folder and uploads events over HTTPS; oodkit makes no network calls at run time, so it is off
  // unless the user set the variable themselves.
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  ortModule ??= import('onnxruntime-node');
  return ortModule;
}
