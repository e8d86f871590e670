/** OpenOOD's cosine_annealing: lr_min + (lr_max − lr_min)·½(1 + cos(π·step/total)). */
export function cosineAnnealing(step: number, totalSteps: number, lrMax: number, lrMin: number): number {
  return lrMin + (lrMax - lrMin) * 0.5 * (1 + Math.cos((step / totalSteps) * Math.PI));
}

/**
 * The learning rate of optimiser step `step` (0-based) under OpenOOD's LambdaLR: base_lr times
 * cosine_annealing(step, total, 1, min_lr/base_lr); it reaches exactly `minLr` at step = total.
 */
export function cosineLearningRate(step: number, totalSteps: number, baseLr: number, minLr: number): number {
  return baseLr * cosineAnnealing(step, totalSteps, 1, minLr / baseLr);
}
