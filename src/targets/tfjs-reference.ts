// The reference runtime for imported TF.js targets: @tensorflow/tfjs (pure-JS CPU backend), a dev
// dependency used by the verification tests and the benchmark, loaded only when asked for.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { PsicWeightsError } from '../errors.js';

export interface TfjsReference {
  /** The tfjs GraphModel itself. */
  model: import('@tensorflow/tfjs').GraphModel;
  /** Every listed output, as flat arrays with shapes. */
  run(data: Float32Array, shape: number[], outputs: string[]): Promise<{ data: Float32Array; shape: number[] }[]>;
  /** Forward + backward (gradient of the sum of the outputs w.r.t. the input); false when tfjs cannot differentiate them. */
  runBackward(data: Float32Array, shape: number[], outputs: string[]): Promise<boolean>;
}

export type Tfjs = typeof import('@tensorflow/tfjs');

/** @tensorflow/tfjs on its pure-JS CPU backend. */
export async function loadTfjs(): Promise<Tfjs> {
  let tf: Tfjs;
  try {
    tf = await import('@tensorflow/tfjs');
  } catch {
    throw new PsicWeightsError('the dev dependency @tensorflow/tfjs is not installed');
  }
  await tf.setBackend('cpu');
  return tf;
}

export async function loadTfjsReference(modelJson: string): Promise<TfjsReference> {
  const tf = await loadTfjs();
  const json = JSON.parse(readFileSync(modelJson, 'utf8'));
  const dir = dirname(modelJson);
  const weightSpecs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const bytes = Buffer.concat(json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(dir, p)))));
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs,
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      format: json.format,
      signature: json.signature,
    }),
  );
  return {
    model,
    async run(data, shape, outputs) {
      const input = tf.tensor(data, shape);
      type Out = InstanceType<typeof tf.Tensor> | InstanceType<typeof tf.Tensor>[];
      let result: Out;
      try {
        result = model.execute(input, outputs) as Out;
      } catch {
        result = (await model.executeAsync(input, outputs)) as Out;  // graphs with control flow
      }
      const list = Array.isArray(result) ? result : [result];
      const out = await Promise.all(list.map(async (t) => ({ data: Float32Array.from(await t.data()), shape: t.shape })));
      tf.dispose([input, ...list]);
      return out;
    },
    async runBackward(data, shape, outputs) {
      const input = tf.tensor(data, shape);
      try {
        const grad = tf.grad((x: InstanceType<typeof tf.Tensor>) => {
          const r = model.execute(x, outputs) as InstanceType<typeof tf.Tensor> | InstanceType<typeof tf.Tensor>[];
          return (Array.isArray(r) ? r : [r]).map((t) => t.sum()).reduce((a, b) => a.add(b));
        })(input);
        await grad.data();
        tf.dispose(grad);
        return true;
      } catch {
        return false;
      } finally {
        tf.dispose(input);
      }
    },
  };
}
