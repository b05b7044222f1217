// PSIC training from Node: the data pipeline (src/training/dataset.ts) feeds crops to the C++
// trainer (cpp/training/psic_trainer.*), one AsyncWorker step at a time, with progress events,
// checkpoints that resume exactly, and a graceful stop.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

import { Codec } from '../codec.js';
import { PsicInputError, PsicKeyError, nativeCall } from '../errors.js';
import { type Key, deriveCondition, generateKey, keyBytes, readKeyFile, writeKeyFile } from '../keys.js';
import { type NativeStepMetrics, type NativeTrainer, type NativeTrainerConfig, native } from '../native.js';
import { TargetModel } from '../targets.js';
import { type DatasetState, ImageDataset, type TrainingBatch } from './dataset.js';

/** `psic train --config FILE.json`: every field; paths are relative to the config file. */
export interface TrainerConfig {
  /** A PSIC model file to train (from `psic model init` or an earlier training). */
  model: string;
  /** The owner's key (hex), or a key file; a missing keyFile is created (mode 0600). */
  key?: string;
  keyFile?: string;
  data?: { dir: string; annotations?: string; crop?: number; batchSize?: number; limit?: number; files?: string[]; prefetch?: number };
  /** Attack targets: 'human:NAME' or 'clip:PATH', with weights (default 1). */
  targets?: { target: string; weight?: number; classes?: string[] }[];
  stage?: 1 | 2;
  /** Stage 2: train only the conditioning (global_cond, CLTG projections); the decoder stays as trained. */
  conditioningOnly?: boolean;
  steps?: number;
  lambda?: number;
  lr?: number;
  auxLr?: number;
  clipMaxNorm?: number;
  schedule?: 'alternate' | 'mixed';
  balance?: 'fixed' | 'inverse-loss' | 'adaptive';
  attackWeight?: number;
  /** balance 'adaptive': the protected decode's PSNR floor (dB). */
  protectedPsnr?: number;
  dualLr?: number;
  uaeo?: 'paper' | 'code' | 'naive';
  /** UAEO's temperature s, in (0, 1). */
  temperature?: number;
  wrongKeys?: number;
  seed?: number;
  logEvery?: number;
  /** Where checkpoints go (default: output with .ckpt.safetensors), and how often (steps). */
  checkpoint?: string;
  checkpointEvery?: number;
  /** The trained model file (default: model with .trained.safetensors). */
  output?: string;
  device?: 'cpu' | 'cuda';
  /** LibTorch threads (default PSIC_THREADS, else all cores). */
  threads?: number;
}

/** One log line: the step's losses and metrics, plus where and how fast. */
export interface StepLog extends NativeStepMetrics {
  stage: 1 | 2;
  epoch: number;
  imagesPerSecond: number;
}

type ResolvedConfig = TrainerConfig & { stage: 1 | 2; steps: number; logEvery: number; checkpointEvery: number; output: string; checkpoint: string };

const DEFAULTS = {
  stage: 1 as 1 | 2, steps: 1000, lambda: 0.013, lr: 1e-4, auxLr: 1e-3, clipMaxNorm: 1, schedule: 'alternate' as const,
  balance: 'fixed' as const, attackWeight: 1, protectedPsnr: 30, dualLr: 0.05, uaeo: 'paper' as const, temperature: 0.1,
  wrongKeys: 2, seed: 0, logEvery: 10, checkpointEvery: 200, crop: 128, batchSize: 8,
};

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new PsicInputError(`${name} must be one of ${allowed.join(', ')}`);
  return v as T;
}

function num(name: string, v: unknown, fallback: number, check: (x: number) => boolean, what: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new PsicInputError(`${name} must be ${what}`);
  return v;
}

/**
 * The HKDF salt of the key's condition: public, fixed when training starts (from the starting
 * model's id and the seed), stored in the trained model's config, so a resumed run and the
 * decoder derive the same condition although the weights change.
 */
export function keySaltFor(startModelId: string, seed: number): string {
  return createHash('sha256').update(`psic/key-salt/v1/${startModelId}/${seed}`).digest('hex').slice(0, 32);
}

export class Trainer extends EventEmitter {
  private stopRequested = false;
  private position: DatasetState = { epoch: 0, index: 0 };
  private lastLogTime = performance.now();
  private imagesSinceLog = 0;
  private latest: Partial<Record<'psnrFull' | 'psnrProtected' | 'psnrWrongKey' | 'attackLoss' | 'attackAccuracy', number | null>> = {};

  private constructor(
    private readonly trainer: NativeTrainer,
    readonly config: ResolvedConfig,
    readonly dataset: ImageDataset | undefined,
    /** The condition the owner's key unlocks on the trained model. */
    readonly fullCondition: Float32Array,
    /** The HKDF salt of that condition (in the trained model's config). */
    readonly keySalt: string,
    /** A CLIP target, whose tokenizer turns batch captions into the attack's texts. */
    private readonly textTarget?: TargetModel,
  ) {
    super();
  }

  /** Builds a trainer from a config object or a JSON file (paths relative to it). */
  static async create(input: TrainerConfig | string, options: { resume?: string } = {}): Promise<Trainer> {
    let config: TrainerConfig;
    let base = process.cwd();
    if (typeof input === 'string') {
      let text: string;
      try {
        text = await readFile(input, 'utf8');
      } catch (err) {
        throw new PsicInputError(`cannot read config '${input}': ${(err as Error).message}`);
      }
      try {
        config = JSON.parse(text);
      } catch (err) {
        throw new PsicInputError(`config '${input}' is not valid JSON: ${(err as Error).message}`);
      }
      base = dirname(resolve(input));
    } else {
      config = input;
    }
    if (typeof config !== 'object' || config === null) throw new PsicInputError('config must be an object');
    const at = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(base, p));
    if (typeof config.model !== 'string') throw new PsicInputError("config.model must be the path of a PSIC model file ('psic model init ... -o M')");
    if ((config.device ?? 'cpu') !== 'cpu') {
      throw new PsicInputError("device 'cuda' needs psic built against a CUDA LibTorch (Torch_DIR); this build trains on the CPU");
    }
    const stage = num('stage', config.stage, DEFAULTS.stage, (x) => x === 1 || x === 2, '1 or 2') as 1 | 2;
    const seed = num('seed', config.seed, DEFAULTS.seed, (x) => Number.isSafeInteger(x) && x >= 0, 'a non-negative integer');
    const model = at(config.model)!;
    const output = at(config.output) ?? model.replace(/(\.safetensors)?$/, '.trained.safetensors');
    const resolved: ResolvedConfig = {
      ...config,
      model,
      stage,
      seed,
      steps: num('steps', config.steps, DEFAULTS.steps, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer'),
      logEvery: num('logEvery', config.logEvery, DEFAULTS.logEvery, (x) => Number.isInteger(x) && x >= 1, 'a positive integer'),
      checkpointEvery: num('checkpointEvery', config.checkpointEvery, DEFAULTS.checkpointEvery, (x) => Number.isInteger(x) && x >= 1, 'a positive integer'),
      output,
      checkpoint: at(config.checkpoint) ?? output.replace(/\.safetensors$/, '') + '.ckpt.safetensors',
      keyFile: at(config.keyFile),
    };

    const codec = await Codec.load(model, { threads: config.threads });
    if (codec.conditionDim === 0) throw new PsicInputError(`model '${model}' has a single decode; train a PSIC model (psic model init --arch psic-hyperprior ...)`);

    // The owner's key: given, read, or made into keyFile.
    let key: Key;
    if (config.key !== undefined) key = config.key;
    else if (resolved.keyFile && existsSync(resolved.keyFile)) key = await readKeyFile(resolved.keyFile);
    else if (resolved.keyFile) {
      key = generateKey();
      await writeKeyFile(resolved.keyFile, key);
    } else throw new PsicKeyError('config needs key (hex) or keyFile (created when missing)');
    keyBytes(key);
    const salt = codec.config.key_salt ?? keySaltFor(codec.modelId, seed);
    const fullCondition = codec.architecture === 'reference' ? new Float32Array([0]) : deriveCondition(key, salt, codec.conditionDim);

    const targets: { target: import('../native.js').NativeTarget; weight: number }[] = [];
    let textTarget: TargetModel | undefined;
    for (const t of config.targets ?? []) {
      if (typeof t?.target !== 'string') throw new PsicInputError("targets[] entries are {target: 'human:NAME' | 'clip:PATH', weight?}");
      const weight = num('targets[].weight', t.weight, 1, (x) => x >= 0, 'non-negative');
      const spec = t.target.startsWith('clip:') ? `clip:${at(t.target.slice(5))}` : t.target;
      const model = await TargetModel.load(spec, { classes: t.classes });
      if (model.tokenize([]) !== undefined) textTarget ??= model;
      targets.push({ target: model.nativeTarget, weight });
    }
    if (config.conditioningOnly !== undefined && typeof config.conditioningOnly !== 'boolean') throw new PsicInputError('conditioningOnly must be true or false');
    const nativeConfig: NativeTrainerConfig = {
      stage,
      conditioningOnly: config.conditioningOnly ?? false,
      lambda: num('lambda', config.lambda, DEFAULTS.lambda, (x) => x > 0, 'positive'),
      lr: num('lr', config.lr, DEFAULTS.lr, (x) => x > 0, 'positive'),
      auxLr: num('auxLr', config.auxLr, DEFAULTS.auxLr, (x) => x > 0, 'positive'),
      clipMaxNorm: num('clipMaxNorm', config.clipMaxNorm, DEFAULTS.clipMaxNorm, (x) => x >= 0, 'non-negative'),
      schedule: oneOf('schedule', config.schedule, ['alternate', 'mixed'] as const, DEFAULTS.schedule),
      balance: oneOf('balance', config.balance, ['fixed', 'inverse-loss', 'adaptive'] as const, DEFAULTS.balance),
      attackWeight: num('attackWeight', config.attackWeight, DEFAULTS.attackWeight, (x) => x >= 0, 'non-negative'),
      protectedPsnr: num('protectedPsnr', config.protectedPsnr, DEFAULTS.protectedPsnr, (x) => x > 0 && x < 100, 'in (0, 100) dB'),
      dualLr: num('dualLr', config.dualLr, DEFAULTS.dualLr, (x) => x > 0, 'positive'),
      uaeo: oneOf('uaeo', config.uaeo, ['paper', 'code', 'naive'] as const, DEFAULTS.uaeo),
      temperature: num('temperature', config.temperature, DEFAULTS.temperature, (x) => x > 0 && x < 1, 'in (0, 1)'),
      wrongKeys: num('wrongKeys', config.wrongKeys, DEFAULTS.wrongKeys, (x) => Number.isInteger(x) && x >= 0 && x <= 64, 'an integer in [0, 64]'),
      seed,
      fullCondition,
    };
    const trainer = await nativeCall(() => native().createTrainer(model, codec.architecture === 'reference' ? null : salt, targets, nativeConfig));

    let dataset: ImageDataset | undefined;
    if (config.data !== undefined) {
      if (typeof config.data?.dir !== 'string') throw new PsicInputError('config.data.dir must be an image folder');
      const crop = num('data.crop', config.data.crop, DEFAULTS.crop, (x) => Number.isInteger(x) && x >= 64 && x % 64 === 0, 'a multiple of 64');
      dataset = await ImageDataset.open({
        dir: at(config.data.dir)!, annotations: at(config.data.annotations), crop,
        batchSize: num('data.batchSize', config.data.batchSize, DEFAULTS.batchSize, (x) => Number.isInteger(x) && x >= 1, 'a positive integer'),
        seed, prefetch: config.data.prefetch, limit: config.data.limit, files: config.data.files,
      });
    }
    const t = new Trainer(trainer, resolved, dataset, fullCondition, salt, textTarget);
    if (options.resume !== undefined) await t.loadCheckpoint(at(options.resume)!);
    return t;
  }

  get stepsDone(): number { return this.trainer.info().stepsDone; }
  /** The weights the current stage trains, by state_dict name. */
  get trainableNames(): string[] { return this.trainer.info().trainable; }
  /** The adaptive balance's current attack weight. */
  get attackWeight(): number { return this.trainer.info().attackWeight; }
  /** SHA-256 of every state tensor (tests, audits: stage 2 leaves the encoder bit-identical). */
  stateDigest(): Record<string, string> { return this.trainer.stateDigest(); }

  /** One optimisation step on a batch (NCHW RGB in [0, 1], H and W multiples of 64). */
  async step(batch: Pick<TrainingBatch, 'data' | 'shape'> & Partial<Pick<TrainingBatch, 'epoch' | 'captions'>>): Promise<StepLog> {
    if (!(batch?.data instanceof Float32Array) || !Array.isArray(batch.shape) || batch.shape.length !== 4) {
      throw new PsicInputError('a batch is {data: Float32Array, shape: [B, 3, H, W]}');
    }
    // With a CLIP target and a caption for every image, CLIP is attacked on image–caption pairs.
    const captions = batch.captions;
    const tokens = this.textTarget && captions?.length === batch.shape[0] && captions.every((c) => typeof c === 'string' && c.length > 0)
      ? this.textTarget.tokenize(captions as string[]) : undefined;
    const t0 = performance.now();
    const m = await nativeCall(() => this.trainer.step(batch.data, batch.shape, tokens));
    const seconds = (performance.now() - t0) / 1000;
    return { ...m, stage: this.config.stage, epoch: batch.epoch ?? this.position.epoch, imagesPerSecond: batch.shape[0] / Math.max(seconds, 1e-9) };
  }

  /**
   * Trains until config.steps steps are done (counting those of a resumed checkpoint), emitting
   * 'progress' every logEvery steps and checkpointing every checkpointEvery; then saves the
   * model to config.output. stop() ends it early with a checkpoint.
   */
  async run(): Promise<{ steps: number; output?: string; checkpoint: string; stopped: boolean }> {
    if (!this.dataset) throw new PsicInputError('run() needs config.data');
    const stream = this.dataset.batches(this.position);
    try {
      while (this.stepsDone < this.config.steps && !this.stopRequested) {
        const next = await stream.next();
        if (next.done) break;
        const batch = next.value;
        const log = await this.step(batch);
        // Alternating steps measure one decode each: carry the other's latest figures into the log.
        for (const k of ['psnrFull', 'psnrProtected', 'psnrWrongKey', 'attackLoss', 'attackAccuracy'] as const) {
          if (log[k] === null) log[k] = this.latest[k] ?? null;
          else this.latest[k] = log[k];
        }
        this.position = this.dataset.stateAfter(batch);
        this.imagesSinceLog += batch.shape[0];
        const done = this.stepsDone;
        if (done % this.config.logEvery === 0 || done === this.config.steps) {
          const now = performance.now();
          log.imagesPerSecond = this.imagesSinceLog / Math.max((now - this.lastLogTime) / 1000, 1e-9);
          this.lastLogTime = now;
          this.imagesSinceLog = 0;
          this.emit('progress', log);
        }
        if (done % this.config.checkpointEvery === 0 && done < this.config.steps) await this.saveCheckpoint(this.config.checkpoint);
      }
    } finally {
      await stream.return?.(undefined);
    }
    await this.saveCheckpoint(this.config.checkpoint);
    if (this.stopRequested) return { steps: this.stepsDone, checkpoint: this.config.checkpoint, stopped: true };
    await this.save(this.config.output);
    return { steps: this.stepsDone, output: this.config.output, checkpoint: this.config.checkpoint, stopped: false };
  }

  /** Asks run() to stop after the current step and write a checkpoint. */
  stop(): void { this.stopRequested = true; }

  /** Writes the trained model (a psic model file; the key salt is in its config). */
  async save(path: string): Promise<void> {
    await mkdir(dirname(resolve(path)), { recursive: true });
    await nativeCall(() => this.trainer.saveModel(path));
  }

  /** Weights, optimizers, step, adaptive weight and the data position. */
  async saveCheckpoint(path: string): Promise<void> {
    await mkdir(dirname(resolve(path)), { recursive: true });
    await nativeCall(() => this.trainer.saveCheckpoint(path, JSON.stringify({ data: this.position })));
  }

  async loadCheckpoint(path: string): Promise<void> {
    const state = JSON.parse((await nativeCall(() => this.trainer.loadCheckpoint(path))) || '{}');
    if (state?.data && Number.isInteger(state.data.epoch) && Number.isInteger(state.data.index)) this.position = state.data;
  }
}
