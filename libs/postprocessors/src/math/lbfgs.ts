/**
 * torch.optim.LBFGS (line_search_fn=None) for a single scalar parameter, one `step(closure)` call.
 * Reproduced step for step so a value OpenOOD fits with it (temperature scaling: lr 0.01,
 * max_iter 50 from T = 1.5) comes out the same — including that it stops well short of the
 * optimum, since without a line search every step after the first is a secant step scaled by lr.
 */
export interface LbfgsOptions {
  readonly lr: number;
  readonly maxIter: number;
  /** Default: floor(maxIter · 5 / 4), as torch. */
  readonly maxEval?: number;
  readonly toleranceGrad?: number;
  readonly toleranceChange?: number;
  readonly historySize?: number;
  /**
   * Round the parameter, loss, gradient and every internal quantity to float32 after each operation,
   * as torch does for a float32 parameter — this also reproduces when its tolerance tests fire
   * (e.g. two float32 losses that compare equal stop the loop).
   */
  readonly float32?: boolean;
}

/** `evaluate(x)` returns the loss and its derivative at x. Returns the final x. */
export function lbfgsScalar(evaluate: (x: number) => { loss: number; grad: number }, x0: number, options: LbfgsOptions): number {
  const { lr, maxIter } = options;
  const maxEval = options.maxEval ?? Math.floor((maxIter * 5) / 4);
  const tolGrad = options.toleranceGrad ?? 1e-7;
  const tolChange = options.toleranceChange ?? 1e-9;
  const history = options.historySize ?? 100;

  const f = options.float32 ? Math.fround : (v: number) => v;
  const evalAt = (v: number) => {
    const r = evaluate(v);
    return { loss: f(r.loss), grad: f(r.grad) };
  };

  let x = f(x0);
  let { loss, grad } = evalAt(x);
  let evals = 1;
  if (Math.abs(grad) <= tolGrad) return x;

  const dirs: number[] = [];
  const steps: number[] = [];
  const ro: number[] = [];
  let hDiag = 1;
  let d = 0;
  let t = 0;
  let prevGrad = 0;
  let prevLoss = 0;
  for (let iter = 1; iter <= maxIter; iter++) {
    if (iter === 1) {
      d = -grad;
    } else {
      const y = f(grad - prevGrad);
      const s = f(d * t);
      const ys = f(y * s);
      if (ys > 1e-10) {
        if (dirs.length === history) {
          dirs.shift();
          steps.shift();
          ro.shift();
        }
        dirs.push(y);
        steps.push(s);
        ro.push(f(1 / ys));
        hDiag = f(ys / f(y * y));
      }
      // two-loop recursion, kept literal so rounding follows the same path
      const al = new Array<number>(dirs.length);
      let q = -grad;
      for (let i = dirs.length - 1; i >= 0; i--) {
        al[i] = f(f(steps[i] * q) * ro[i]);
        q = f(q - f(al[i] * dirs[i]));
      }
      let r = f(q * hDiag);
      for (let i = 0; i < dirs.length; i++) {
        const be = f(f(dirs[i] * r) * ro[i]);
        r = f(r + f(steps[i] * f(al[i] - be)));
      }
      d = r;
    }
    prevGrad = grad;
    prevLoss = loss;
    // torch multiplies float32 tensors by a Python scalar after casting it to float32
    t = f(iter === 1 ? Math.min(1, f(1 / Math.abs(grad))) * lr : lr);
    const gtd = f(grad * d);
    if (gtd > -tolChange) break;
    x = f(x + f(t * d));
    let optimal = false;
    if (iter !== maxIter) {
      ({ loss, grad } = evalAt(x));
      evals++;
      optimal = Math.abs(grad) <= tolGrad;
    }
    if (iter === maxIter) break;
    if (evals >= maxEval) break;
    if (optimal) break;
    if (Math.abs(f(d * t)) <= tolChange) break;
    if (Math.abs(loss - prevLoss) < tolChange) break;
  }
  return x;
}
