// The attacks psic is measured against (native core: cpp/attacks/):
// - cloak(): per-image L∞ PGD on the original photo, the common alternative to PSIC
//   (Fawkes-style cloaking), before a plain codec compresses it;
// - keySearch(): an adversary with the model and the bitstreams but no key, who runs gradient
//   descent on the condition vector to get the full decode back.
import type { Codec } from '../codec/codec.js';
import { PsicInputError, nativeCall } from '../errors.js';
import { type ImageInput, type RgbImage, readImage } from '../io/image-io.js';
import { type NativeWeightedTarget, native } from '../native.js';
import { TargetModel, imageBatch } from '../targets/target-model.js';

/** A target, or a target with its weight among several. */
export type AttackTargets = (TargetModel | { target: TargetModel; weight?: number })[];

export interface CloakOptions {
  targets: AttackTargets;
  /** L∞ bound, in [0, 1] pixel units. Default 8/255. */
  epsilon?: number;
  /** Default 50. */
  steps?: number;
  /** Default 2/255. */
  stepSize?: number;
  /** Start at a uniform random point of the ε-ball (default true). */
  randomStart?: boolean;
  seed?: number;
}

export interface KeySearchOptions {
  /** Targets whose agreement with the originals the search maximises ('target' objective). */
  targets?: AttackTargets;
  /** 'target' (default with targets): target agreement; 'pixels': MSE to the originals. */
  objective?: 'target' | 'pixels';
  /** Adam steps per restart (default 500). */
  steps?: number;
  /** Random starts (default 3). */
  restarts?: number;
  /** Adam learning rate on u, c = tanh(u) (default 0.02). */
  lr?: number;
  /** Keep c in (−1, 1)^d, where every key's condition lies (default true). */
  bounded?: boolean;
  /** Keep the loss every this many steps (default 10). */
  traceEvery?: number;
  seed?: number;
}

export interface KeySearchResult {
  /** The best condition found: decode with `codec.decompress(bytes, {condition})`. */
  condition: Float32Array;
  /** Its loss, mean over the images: −agreement ('target') or MSE in [0, 1] units ('pixels'). */
  objective: number;
  /** Per restart, the loss every traceEvery steps, then the last. */
  traces: number[][];
}

function nativeTargets(targets: AttackTargets | undefined, what: string): NativeWeightedTarget[] {
  if (!Array.isArray(targets) || targets.length === 0) throw new PsicInputError(`${what} needs a non-empty targets array`);
  return targets.map((t) => {
    const target = t instanceof TargetModel ? t : t?.target;
    const weight = t instanceof TargetModel ? 1 : t?.weight ?? 1;
    if (!(target instanceof TargetModel)) throw new PsicInputError('targets must be TargetModels or {target: TargetModel, weight}');
    if (!(Number.isFinite(weight) && weight > 0)) throw new PsicInputError('target weights must be positive numbers');
    return { target: target.nativeTarget, weight };
  });
}

function checkRange(name: string, value: number, lo: number, hi: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi || (integer && !Number.isInteger(value))) {
    throw new PsicInputError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${String(value)}`);
  }
  return value;
}

/** Per-image PGD cloaking: the image with an L∞-bounded perturbation that misleads the targets. */
export async function cloak(image: ImageInput, options: CloakOptions): Promise<RgbImage> {
  const targets = nativeTargets(options?.targets, 'cloak');
  const o = {
    epsilon: checkRange('epsilon', options.epsilon ?? 8 / 255, 0, 1),
    steps: checkRange('steps', options.steps ?? 50, 0, 100000, true),
    stepSize: checkRange('stepSize', options.stepSize ?? 2 / 255, 1e-9, 1),
    randomStart: options.randomStart ?? true,
    seed: checkRange('seed', options.seed ?? 0, 0, Number.MAX_SAFE_INTEGER, true),
  };
  const rgb = await readImage(image);
  const batch = imageBatch(rgb);
  const out = await nativeCall(() => native().pgdCloak(targets, batch.data, batch.shape, o));
  const { width: w, height: h } = rgb;
  const data = new Uint8Array(3 * w * h);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = Math.round(out.data[c * w * h + i] * 255);
  return { data, width: w, height: h };
}

/**
 * Searches one condition that decodes all `containers` (made by `codec`) closest to their
 * `originals`: an oracle adversary, so what it reaches bounds a real one.
 */
export async function keySearch(codec: Codec, containers: Uint8Array[], originals: ImageInput[], options: KeySearchOptions = {}): Promise<KeySearchResult> {
  if (!Array.isArray(containers) || containers.length === 0 || !Array.isArray(originals) || originals.length !== containers.length) {
    throw new PsicInputError('keySearch needs containers and the same number of original images');
  }
  if (codec.conditionDim === 0) throw new PsicInputError(`model ${codec.modelId} has a single decode: there is no condition to search`);
  const objective = options.objective ?? (options.targets?.length ? 'target' : 'pixels');
  if (objective !== 'target' && objective !== 'pixels') throw new PsicInputError("objective must be 'target' or 'pixels'");
  const targets = objective === 'target' ? nativeTargets(options.targets, "keySearch's target objective") : [];
  const o = {
    objective,
    steps: checkRange('steps', options.steps ?? 500, 1, 1e6, true),
    restarts: checkRange('restarts', options.restarts ?? 3, 1, 1000, true),
    lr: checkRange('lr', options.lr ?? 0.02, 1e-9, 100),
    bounded: options.bounded ?? true,
    traceEvery: checkRange('traceEvery', options.traceEvery ?? 10, 1, 1e6, true),
    seed: checkRange('seed', options.seed ?? 0, 0, Number.MAX_SAFE_INTEGER, true),
  };
  const pixels = await Promise.all(originals.map(async (img) => (await readImage(img)).data));
  return nativeCall(() => native().keySearch(codec.nativeModel, containers, pixels, targets, o));
}
