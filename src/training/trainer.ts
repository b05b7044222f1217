// PSIC training from Node: the data pipeline (src/training/dataset.ts) feeds crops to the C++
// trainer (cpp/training/psic_trainer.*), one AsyncWorker step at a time, with progress events,
// checkpoints that resume exactly, and a graceful stop. The config's defaults and checks have one
// owner, cpp/training/trainer_config.h: this file passes the object through and uses what it
// resolves to.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

import { applyProcessThreads } from '../codec/codec.js';
import { PsicConfigError, PsicInputError, PsicKeyError, fromNative, nativeCall } from '../errors.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../io/read-file.js';
import { type Key, generateKey, keyBytes, readKeyFile, writeKeyFile } from '../keys.js';
import { type NativeStepMetrics, type NativeTrainer, type NativeWeightedTarget, native } from '../native.js';
import { TargetModel } from '../targets/target-model.js';
import { type DatasetState, ImageDataset, type TrainingBatch } from './dataset.js';

/**
 * `psic train --config FILE.json`: every field; paths are relative to the config file. The
 * defaults and ranges are cpp/training/trainer_config.h's (PsicConfigError names a bad field).
 */
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
  /** Where the model trains: 'cpu' (default), 'cuda' or 'cuda:N' (a CUDA build; PsicDeviceError otherwise). */
  device?: 'cpu' | 'cuda' | `cuda:${number}`;
  /** LibTorch threads (default PSIC_THREADS, else all cores). */
  threads?: number;
  /** Data-parallel training: this process is one rank of several (README, "Distributed training"). */
  distributed?: DistributedConfig;
}

/**
 * One rank of a data-parallel run. Every rank runs the same config; data.batchSize is the
 * combined batch, of which each rank trains its equal part; rank 0 writes checkpoints and output.
 */
export interface DistributedConfig {
  worldSize: number;
  rank: number;
  /** Rank 0's address, ADDR:PORT (it hosts the rendezvous; every rank connects to it). */
  master: string;
  /** For joining and for every collective: a peer that died or hangs fails the others after it (default 60). */
  timeoutSeconds?: number;
}

/** One log line: the step's losses and metrics, plus where and how fast. */
export interface StepLog extends NativeStepMetrics {
  stage: 1 | 2;
  epoch: number;
  imagesPerSecond: number;
}

/** A config with every default filled in (and, in Trainer.config, model, output, checkpoint and keyFile resolved). */
export type ResolvedTrainerConfig = Omit<Required<TrainerConfig>, 'key' | 'keyFile' | 'data' | 'targets' | 'threads' | 'distributed'> &
  Pick<TrainerConfig, 'key' | 'keyFile' | 'threads'> & {
    data?: NonNullable<TrainerConfig['data']> & { crop: number; batchSize: number; prefetch: number };
    targets: { target: string; weight: number; classes?: string[] }[];
    distributed?: Required<Omit<DistributedConfig, 'master'>> & Pick<DistributedConfig, 'master'>;
  };

/**
 * Validates a training config and fills in every default (cpp/training/trainer_config.h, through
 * the addon): PsicConfigError naming the field for an unknown field, a wrong type or a value out
 * of range. Paths stay as written.
 */
export function resolveTrainerConfig(config: TrainerConfig): ResolvedTrainerConfig {
  let text: string;
  try {
    text = JSON.stringify(config);
  } catch (err) {
    throw new PsicConfigError(`the training config cannot be written as JSON: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(native().resolveTrainingConfig(text)) as ResolvedTrainerConfig;
  } catch (err) {
    throw fromNative(err);
  }
}

/**
 * The HKDF salt of the key's condition: public, fixed when training starts (from the starting
 * model's id and the seed), stored in the trained model's config, so a resumed run and the
 * decoder derive the same condition although the weights change. Computed by cpp/models/keys.h
 * (training_key_salt).
 */
export function keySaltFor(startModelId: string, seed: number): string {
  try {
    return native().trainingKeySalt(startModelId, seed);
  } catch (err) {
    throw fromNative(err);
  }
}

/** A config path: relative ones start from the config file's folder. */
function resolveFrom(base: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : isAbsolute(p) ? p : resolve(base, p);
}

/** A config object, or a JSON file's with the folder its relative paths start from. */
async function readConfig(input: TrainerConfig | string): Promise<{ config: TrainerConfig; base: string }> {
  let config: TrainerConfig = input as TrainerConfig;
  let base = process.cwd();
  if (typeof input === 'string') {
    // A regular file of at most 1 MB (PsicIoError, PsicLimitError).
    const text = (await readRegularFile(input, { maxBytes: MAX_CONFIG_FILE_BYTES, what: 'config' })).toString('utf8');
    try {
      config = JSON.parse(text);
    } catch (err) {
      throw new PsicInputError(`config '${input}' is not valid JSON: ${(err as Error).message}`);
    }
    base = dirname(resolve(input));
  }
  if (typeof config !== 'object' || config === null) throw new PsicInputError('config must be an object');
  return { config, base };
}

/**
 * Makes config.keyFile (mode 0600) when the config names one that is missing and gives no key:
 * before distributed ranks start, since each would otherwise make its own.
 */
export async function prepareKeyFile(input: TrainerConfig | string): Promise<void> {
  const { config, base } = await readConfig(input);
  if (config.key !== undefined || typeof config.keyFile !== 'string') return;
  const path = resolveFrom(base, config.keyFile)!;
  if (!existsSync(path)) await writeKeyFile(path, generateKey());
}

export class Trainer extends EventEmitter {
  private stopRequested = false;
  private position: DatasetState = { epoch: 0, index: 0 };
  private lastLogTime = performance.now();
  private imagesSinceLog = 0;
  private latest: Partial<Record<'psnrFull' | 'psnrProtected' | 'psnrWrongKey' | 'attackLoss' | 'attackAccuracy', number | null>> = {};

  private constructor(
    private readonly trainer: NativeTrainer,
    readonly config: ResolvedTrainerConfig,
    readonly dataset: ImageDataset | undefined,
    /** The condition the owner's key unlocks on the trained model. */
    readonly fullCondition: Float32Array,
    /** The HKDF salt of that condition (in the trained model's config). */
    readonly keySalt: string,
    /** A CLIP target, whose tokenizer turns batch captions into the attack's texts. */
    private readonly textTarget?: TargetModel,
    /** Data parallel: this process's rank and the number of ranks (1 and 0 on one process). */
    readonly worldSize = 1,
    readonly rank = 0,
  ) {
    super();
  }

  /**
   * Builds a trainer from a config object or a JSON file (paths relative to it); `override`
   * replaces fields (the CLI's --steps, --world-size...). With config.distributed it joins the
   * other ranks, so it resolves once all have.
   */
  static async create(input: TrainerConfig | string, options: { resume?: string; override?: Partial<TrainerConfig> } = {}): Promise<Trainer> {
    const { config: read, base } = await readConfig(input);
    // distributed merges field by field: the CLI's --world-size/--rank/--master keep the file's timeout.
    const merged: TrainerConfig = { ...read, ...options.override };
    if (options.override?.distributed) merged.distributed = { ...read.distributed, ...options.override.distributed };
    const resolved = resolveTrainerConfig(merged);
    const at = (p: string) => resolveFrom(base, p)!;
    const config: ResolvedTrainerConfig = {
      ...resolved, model: at(resolved.model), output: at(resolved.output), checkpoint: at(resolved.checkpoint),
      keyFile: resolveFrom(base, resolved.keyFile),
    };
    const distributed = config.distributed && config.distributed.worldSize > 1 ? config.distributed : undefined;
    applyProcessThreads(config.threads);

    // The owner's key: given, read, or made into keyFile.
    let key: Key;
    if (config.key !== undefined) key = config.key;
    else if (config.keyFile && existsSync(config.keyFile)) key = await readKeyFile(config.keyFile);
    else if (config.keyFile && distributed) {
      // Each rank would make its own: the launcher (psic train --nproc) makes it before the ranks start.
      throw new PsicKeyError(`key file '${config.keyFile}' is missing: distributed ranks need an existing key (psic keygen -o FILE)`);
    } else if (config.keyFile) {
      key = generateKey();
      await writeKeyFile(config.keyFile, key);
    } else throw new PsicKeyError('config needs key (hex) or keyFile (created when missing)');
    const ownerKey = keyBytes(key);

    const targets: NativeWeightedTarget[] = [];
    let textTarget: TargetModel | undefined;
    for (const t of config.targets) {
      const spec = t.target.startsWith('clip:') ? `clip:${at(t.target.slice(5))}` : t.target;
      const model = await TargetModel.load(spec, { classes: t.classes });
      if (model.tokenize([]) !== undefined) textTarget ??= model;
      targets.push({ target: model.nativeTarget, weight: t.weight });
    }
    let dataset: ImageDataset | undefined;
    if (config.data !== undefined) {
      const d = config.data;
      dataset = await ImageDataset.open({
        dir: at(d.dir), annotations: resolveFrom(base, d.annotations), crop: d.crop, batchSize: d.batchSize,
        seed: config.seed, prefetch: d.prefetch, limit: d.limit, files: d.files,
        shard: distributed && { rank: distributed.rank, count: distributed.worldSize },
      });
    }
    // What the ranks must agree on beyond the trainer config (which C++ checks itself).
    const fingerprint = distributed ? JSON.stringify({
      data: dataset && { files: dataset.files, crop: dataset.crop, batchSize: dataset.batchSize, annotations: config.data?.annotations ?? null },
      steps: config.steps, targets: config.targets,
    }) : '';
    // The addon loads the model (once), fixes the key salt and derives the key's condition.
    const trainer = await nativeCall(() => native().createTrainer(JSON.stringify(config), ownerKey, targets, fingerprint));
    const info = trainer.info();
    const t = new Trainer(trainer, config, dataset, info.fullCondition, info.keySalt, textTarget, distributed?.worldSize, distributed?.rank);
    if (options.resume !== undefined) await t.loadCheckpoint(at(options.resume));
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
    const images = batch.shape[0] * this.worldSize;  // the combined batch
    return { ...m, stage: this.config.stage, epoch: batch.epoch ?? this.position.epoch, imagesPerSecond: images / Math.max(seconds, 1e-9) };
  }

  /**
   * Trains until config.steps steps are done (counting those of a resumed checkpoint), emitting
   * 'progress' every logEvery steps and checkpointing every checkpointEvery; then saves the
   * model to config.output. stop() ends it early with a checkpoint. Distributed: every rank
   * runs it in lockstep and logs the combined batch's figures; only rank 0 writes files.
   */
  async run(): Promise<{ steps: number; output?: string; checkpoint: string; stopped: boolean }> {
    if (!this.dataset) throw new PsicInputError('run() needs config.data');
    const stream = this.dataset.batches(this.position);
    const writer = this.rank === 0;  // every rank holds the same weights; one writes them
    try {
      while (this.stepsDone < this.config.steps && !this.stopRequested) {
        const next = await stream.next();
        if (next.done) break;
        const batch = next.value;
        const log = await this.step(batch);
        if (log.stop) this.stopRequested = true;  // some rank's stop(): all end after this step
        // Alternating steps measure one decode each: carry the other's latest figures into the log.
        for (const k of ['psnrFull', 'psnrProtected', 'psnrWrongKey', 'attackLoss', 'attackAccuracy'] as const) {
          if (log[k] === null) log[k] = this.latest[k] ?? null;
          else this.latest[k] = log[k];
        }
        this.position = this.dataset.stateAfter(batch);
        this.imagesSinceLog += batch.shape[0] * this.worldSize;
        const done = this.stepsDone;
        if (done % this.config.logEvery === 0 || done === this.config.steps) {
          const now = performance.now();
          log.imagesPerSecond = this.imagesSinceLog / Math.max((now - this.lastLogTime) / 1000, 1e-9);
          this.lastLogTime = now;
          this.imagesSinceLog = 0;
          this.emit('progress', log);
        }
        if (done % this.config.checkpointEvery === 0 && done < this.config.steps && writer) await this.saveCheckpoint(this.config.checkpoint);
      }
    } finally {
      await stream.return?.(undefined);
    }
    if (writer) await this.saveCheckpoint(this.config.checkpoint);
    if (this.stopRequested) return { steps: this.stepsDone, checkpoint: this.config.checkpoint, stopped: true };
    if (writer) await this.save(this.config.output);
    return { steps: this.stepsDone, output: this.config.output, checkpoint: this.config.checkpoint, stopped: false };
  }

  /**
   * Asks run() to stop after the current step and write a checkpoint. Distributed: the request
   * travels with the next step's all-reduce, so every rank stops after that same step.
   */
  stop(): void {
    if (this.worldSize > 1) this.trainer.requestStop();
    else this.stopRequested = true;
  }

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
