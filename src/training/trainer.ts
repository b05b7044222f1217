// PSIC training from Node: the data pipeline (src/training/dataset.ts) feeds crops to the C++
// trainer (cpp/training/psic_trainer.*), one AsyncWorker step at a time, with progress events,
// checkpoints that resume exactly, and a graceful stop.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

import { Codec, validateDevice } from '../codec/codec.js';
import { PsicInputError, PsicKeyError, nativeCall } from '../errors.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFile } from '../io/read-file.js';
import { type Key, deriveCondition, generateKey, keyBytes, readKeyFile, writeKeyFile } from '../keys.js';
import { type NativeStepMetrics, type NativeTrainer, type NativeTrainerConfig, native } from '../native.js';
import { TargetModel } from '../targets/target-model.js';
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

type ResolvedDistributed = { worldSize: number; rank: number; host: string; port: number; timeoutSeconds: number };

/** Validates config.distributed: undefined for one process (absent, or a world of 1). */
function parseDistributed(d: unknown): ResolvedDistributed | undefined {
  if (d === undefined) return undefined;
  if (typeof d !== 'object' || d === null) throw new PsicInputError('distributed must be {worldSize, rank, master, timeoutSeconds?}');
  const o = d as Partial<DistributedConfig>;
  const worldSize = num('distributed.worldSize', o.worldSize, 1, (x) => Number.isInteger(x) && x >= 1 && x <= 1024, 'an integer in [1, 1024]');
  const rank = num('distributed.rank', o.rank, 0, (x) => Number.isInteger(x) && x >= 0 && x < worldSize, `an integer in [0, ${worldSize})`);
  const timeoutSeconds = num('distributed.timeoutSeconds', o.timeoutSeconds, 60, (x) => x > 0 && x <= 86400, 'in (0, 86400] seconds');
  if (worldSize === 1) return undefined;
  const { host, port } = parseMaster(o.master);
  return { worldSize, rank, host, port, timeoutSeconds };
}

/** 'ADDR:PORT' (an IPv6 address in brackets: '[::1]:29500'). */
export function parseMaster(master: unknown): { host: string; port: number } {
  const m = typeof master === 'string' ? /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(master) : null;
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new PsicInputError(`distributed.master must be ADDR:PORT (rank 0's address), got ${JSON.stringify(master)}`);
  return { host: m[1] ?? m[2]!, port };
}

/**
 * The HKDF salt of the key's condition: public, fixed when training starts (from the starting
 * model's id and the seed), stored in the trained model's config, so a resumed run and the
 * decoder derive the same condition although the weights change.
 */
export function keySaltFor(startModelId: string, seed: number): string {
  return createHash('sha256').update(`psic/key-salt/v1/${startModelId}/${seed}`).digest('hex').slice(0, 32);
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
    readonly config: ResolvedConfig,
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
    const config: TrainerConfig = { ...read, ...options.override };
    if (options.override?.distributed) config.distributed = { ...read.distributed, ...options.override.distributed };
    const distributed = parseDistributed(config.distributed);
    const at = (p: string | undefined) => resolveFrom(base, p);
    if (typeof config.model !== 'string') throw new PsicInputError("config.model must be the path of a PSIC model file ('psic model init ... -o M')");
    const device = validateDevice(config.device);
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
    else if (resolved.keyFile && distributed) {
      // Each rank would make its own: the launcher (psic train --nproc) makes it before the ranks start.
      throw new PsicKeyError(`key file '${resolved.keyFile}' is missing: distributed ranks need an existing key (psic keygen -o FILE)`);
    } else if (resolved.keyFile) {
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
      device,
    };
    let dataset: ImageDataset | undefined;
    if (config.data !== undefined) {
      if (typeof config.data?.dir !== 'string') throw new PsicInputError('config.data.dir must be an image folder');
      const crop = num('data.crop', config.data.crop, DEFAULTS.crop, (x) => Number.isInteger(x) && x >= 64 && x % 64 === 0, 'a multiple of 64');
      dataset = await ImageDataset.open({
        dir: at(config.data.dir)!, annotations: at(config.data.annotations), crop,
        batchSize: num('data.batchSize', config.data.batchSize, DEFAULTS.batchSize, (x) => Number.isInteger(x) && x >= 1, 'a positive integer'),
        seed, prefetch: config.data.prefetch, limit: config.data.limit, files: config.data.files,
        shard: distributed && { rank: distributed.rank, count: distributed.worldSize },
      });
    }
    if (distributed) {
      // What the ranks must agree on beyond the native trainer config (which C++ checks itself).
      const data = dataset && { files: dataset.files, crop: dataset.crop, batchSize: dataset.batchSize, annotations: config.data?.annotations ?? null };
      const fingerprint = JSON.stringify({ data, steps: resolved.steps, targets: config.targets ?? [] });
      // NCCL between GPUs where the build has it; Gloo on the CPU.
      nativeConfig.distributed = { ...distributed, backend: device === 'cpu' ? 'gloo' : 'nccl', fingerprint };
    }
    const trainer = await nativeCall(() => native().createTrainer(model, codec.architecture === 'reference' ? null : salt, targets, nativeConfig));
    const t = new Trainer(trainer, resolved, dataset, fullCondition, salt, textTarget, distributed?.worldSize, distributed?.rank);
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
