// worker_threads entry: decodes batches of image files and transfers the pixels back.
'use strict';
const { parentPort } = require('node:worker_threads');
const { decodeImage } = require('./decode.cjs');

parentPort.on('message', async ({ id, paths, options, shape }) => {
  const bytes = shape[0] * shape[1] * shape[2];
  const out = new Uint8Array(paths.length * bytes);
  let failed;
  await Promise.all(
    paths.map(async (path, k) => {
      try {
        out.set(await decodeImage(path, options, shape), k * bytes);
      } catch (error) {
        failed ??= { index: k, message: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
  if (failed) parentPort.postMessage({ id, error: failed });
  else parentPort.postMessage({ id, out }, [out.buffer]);
});
