import type { Command } from 'commander';
import { DataError, UsageError, npyToFloat64, npyToInt32, readNpy } from '@oodkit/core';
import { computeExtendedMetrics, computeOodMetrics, type ExtendedMetrics, type OodMetrics } from '@oodkit/evaluators';
import { numberOption } from '../shared/options.js';

export interface MetricsCommandOptions {
  readonly id: string;
  readonly ood: string;
  readonly idPred?: string;
  readonly idLabels?: string;
  readonly tpr?: number;
}

async function readVector(path: string, kind: 'conf' | 'int'): Promise<Float64Array | Int32Array> {
  const array = await readNpy(path);
  if (array.shape.length !== 1) throw new DataError(`${path}: shape [${array.shape.join(', ')}], expected a 1-D array`);
  return kind === 'conf' ? npyToFloat64(array, path) : npyToInt32(array, path);
}

/**
 * OpenOOD's five metrics and the ones beyond OpenOOD (AUTC, OSCR, CCR@FPR, AURRA, detection error)
 * of ID vs OOD confidences (higher = more ID), as fractions. ACC, OSCR, CCR@FPR and AURRA need the ID
 * predictions and labels; without them they are null.
 */
export async function runMetrics(
  options: MetricsCommandOptions,
): Promise<OodMetrics & { extended: ExtendedMetrics; nId: number; nOod: number }> {
  if (Boolean(options.idPred) !== Boolean(options.idLabels)) throw new UsageError('--id-pred and --id-labels go together (ACC needs both)');
  const id = await readVector(options.id, 'conf');
  const ood = await readVector(options.ood, 'conf');
  const idPred = options.idPred ? await readVector(options.idPred, 'int') : undefined;
  const idLabels = options.idLabels ? await readVector(options.idLabels, 'int') : undefined;
  if (idPred && idPred.length !== id.length)
    throw new DataError(`${options.idPred}: ${idPred.length} predictions for ${id.length} ID scores in ${options.id}`);
  if (idLabels && idLabels.length !== id.length)
    throw new DataError(`${options.idLabels}: ${idLabels.length} labels for ${id.length} ID scores in ${options.id}`);
  const metrics = computeOodMetrics(id, ood, { idPred, idLabels, tpr: options.tpr });
  const extended = computeExtendedMetrics(id, ood, { idPred, idLabels });
  return { ...metrics, extended, nId: id.length, nOod: ood.length };
}

export function registerMetrics(program: Command): void {
  program
    .command('metrics')
    .description(
      'FPR@95, AUROC, AUPR-IN, AUPR-OUT, AUTC, detection error (and ACC, OSCR, CCR@FPR, AURRA) of ID vs OOD confidence arrays (.npy), printed as JSON fractions',
    )
    .requiredOption('--id <file>', 'ID confidences, 1-D .npy (higher = more ID)')
    .requiredOption('--ood <file>', 'OOD confidences, 1-D .npy')
    .option('--id-pred <file>', 'predicted classes of the ID samples (for ACC, OSCR, CCR@FPR, AURRA)')
    .option('--id-labels <file>', 'true classes of the ID samples (for ACC, OSCR, CCR@FPR, AURRA)')
    .option('--tpr <level>', 'TPR level of the FPR metric, in (0, 1] (default 0.95)', numberOption('--tpr', { gt: 0, lte: 1 }), 0.95)
    .action(async (opts: MetricsCommandOptions) => {
      const m = await runMetrics(opts);
      const x = m.extended;
      const ccr = x.ccrAtFpr && Object.fromEntries(x.ccrAtFpr.map((c) => [c.fpr.toExponential(), c.ccr]));
      process.stdout.write(
        JSON.stringify(
          {
            fpr95: m.fpr95,
            auroc: m.auroc,
            aupr_in: m.auprIn,
            aupr_out: m.auprOut,
            acc: m.acc,
            autc: x.autc,
            detection_error: x.detectionError,
            oscr: x.oscr,
            ccr_at_fpr: ccr,
            aurra: x.aurra,
            n_id: m.nId,
            n_ood: m.nOod,
          },
          null,
          2,
        ) + '\n',
      );
    });
}
