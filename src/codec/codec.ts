// Codec: load a model, compress images to .psic containers, decompress them back.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { readFile, stat } from 'node:fs/promises';

import { type BatchItem, type BatchIterateOptions, type BatchOptions, type BatchPlan, MicroBatcher, collectBatch, planBatch, runBatch } from './batch.js';
import { PsicDeviceError, PsicInputError, PsicKeyError, PsicWeightsError, fromNative, nativeCall, nativeCallSync } from '../errors.js';
import { type Background, defaultPixelLimit, type ImageInput, type RgbImage, encodePng, readImage, validateBackground, validatePixelLimit } from '../io/image-io.js';
import { type Key, type Recipient, keyBytes, recipientBytes } from '../keys.js';
import { bpp } from '../evaluate/metrics.js';
import { readContainerFile } from './container-file.js';
import {
  type NativeContainerHeader,
  type NativeModel,
  type NativeModelInfo,
  type NativeTimings,
  type SynthesisPath,
  native,
} from '../native.js';

export type ComputePath = 'compat' | 'fast';

export interface CodecLoadOptions {
  /**
   * LibTorch intra-op threads for this process (default: PSIC_THREADS, else all cores).
   * Set once, by the first Codec.load.
   */
  threads?: number;
  /**
   * 'fast' (default): channels-last analysis and the sub-pixel synthesis.
   * 'compat': CompressAI's exact op sequence; with threads = 1 its bitstreams are byte-identical to CompressAI's.
   */
  path?: ComputePath;
  /** Refuse images (and containers) with more pixels than this. Default 268402689, like sharp. */
  pixelLimit?: number;
  /**
   * Where the neural transforms run: 'cpu' (default), 'cuda' or 'cuda:N' (needs psic built
   * against a CUDA LibTorch; PsicDeviceError otherwise). Entropy coding, h_s and the entropy
   * models stay on the CPU, so a bitstream decodes the same on any device.
   */
  device?: Device;
}

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export interface DecompressOptions {
  /**
   * The owner's key (PSIC models): gives the full decode. Without it the decode is the protected
   * one. Unconditional models (plain CompressAI backbones) refuse a key.
   */
  key?: Key;
  /** A recipient's X25519 secret key: opens the full image of a sealed file made for its public key. */
  identity?: Uint8Array;
  /**
   * A raw condition vector (conditionDim values) instead of a key's: for research and the
   * key-search evaluation. Overrides `key`.
   */
  condition?: Float32Array;
  /** 'uint8' (default): round(x̂·255); 'float32': x̂ in [0,1]. */
  output?: 'uint8' | 'float32';
  /** Override the synthesis implementation (benchmarks): 'subpixel' or 'transposed'. */
  synthesis?: SynthesisPath;
  /** LibTorch intra-op threads for this call (default: the process setting). */
  threads?: number;
}

/** A sealed file: the owner's key and the X25519 recipients the full image opens for too. */
export interface SealOptions {
  key: Key;
  recipients?: Recipient[];
  /**
   * How the sealed section codes the full latent (measurements): 'auto' (default) the smaller
   * of 'conditional' (the residual against the public latent) and 'simulcast' (its own strings).
   */
  coding?: 'auto' | 'conditional' | 'simulcast';
  /** How the public section decodes (measurements): 'auto' (default) the model's backbone synthesis where it has one. */
  publicSynthesis?: 'auto' | 'protected' | 'backbone';
}

export interface CompressOptions {
  /**
   * Seal the file (container version 3): the public bytes hold only the protected image; the
   * full image is encrypted (AES-256-GCM) and opens only with `seal.key` or the secret key of
   * one of `seal.recipients` (X25519 public keys). Needs a PSIC model on the scale hyperprior.
   */
  seal?: SealOptions;
  /**
   * The owner's key (PSIC models): stored as a key check (a salted HMAC tag, nothing of the key
   * itself), so that decompressing with a wrong key fails with PsicKeyError instead of giving a
   * plausible image. The bitstream is the same with or without it.
   */
  key?: Key;
  /** Also compute the model's estimated bpp (default true for compressWithStats; costs time). */
  estimate?: boolean;
  /** LibTorch intra-op threads for this call (default: the process setting). */
  threads?: number;
  /**
   * The colour transparent pixels of the input are flattened onto (default white): a CSS colour
   * string ('black', '#ff8800') or {r, g, b}. What is under a transparent pixel never shows.
   */
  background?: Background;
}

/** A container: its bytes, or the path of a .psic file (read when its turn comes, in batches). */
export type ContainerInput = Uint8Array | ArrayBuffer | string;

export interface DecodedImage<T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  /** HWC RGB. */
  data: T;
  width: number;
  height: number;
  channels: 3;
}

export interface CompressStats {
  container: Uint8Array;
  width: number;
  height: number;
  /** Container bytes × 8 / original pixels. */
  bpp: number;
  /** y + z string bytes × 8 / original pixels. */
  payloadBpp: number;
  /** Model estimate: −log2 likelihoods of y and z / original pixels. */
  estimatedBpp: number;
  timings: NativeTimings;
}

export interface ModelInitOptions {
  architecture: 'psic-hyperprior' | 'psic-factorized' | 'psic-balle' | 'reference' | 'bmshj2018-hyperprior';
  N: number;
  M: number;
  /** PSIC condition size (default 16; the reference config has 1). */
  conditionDim?: number;
  seed?: number;
  /** A model file (e.g. a CompressAI checkpoint) whose encoder side seeds the new model (and its g_s: psic-balle). */
  from?: string;
  /** A conditioning file (exportConditioning) applied over the seeded model, with its key salt. */
  conditioning?: string;
}

export interface ContainerInfo extends Omit<NativeContainerHeader, 'strings'> {
  strings: { name: 'z' | 'y'; bytes: number; sha256: string }[];
}

let threadsSet = false;

/** 'cpu' when undefined; PsicInputError for a bad name, PsicDeviceError for CUDA on a CPU build. */
export function validateDevice(device: unknown): Device {
  if (device === undefined) return 'cpu';
  if (typeof device !== 'string' || !/^(cpu|cuda(:\d{1,3})?)$/.test(device)) {
    throw new PsicInputError(`device must be 'cpu', 'cuda' or 'cuda:N', got ${String(device)}`);
  }
  if (device !== 'cpu' && !native().cudaAvailable()) {
    throw new PsicDeviceError(`device '${device}' needs psic built against a CUDA LibTorch (Torch_DIR) on a machine with a GPU; this build runs on the CPU`);
  }
  return device as Device;
}

function checkSynthesis(synthesis: unknown): void {
  if (synthesis !== undefined && synthesis !== 'subpixel' && synthesis !== 'transposed') throw new PsicInputError(`synthesis must be 'subpixel' or 'transposed'`);
}

function resolveThreads(requested: number | undefined): number {
  const fromEnv = process.env.PSIC_THREADS;
  const value = requested ?? (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : availableParallelism());
  if (!Number.isInteger(value) || value < 1 || value > 1024) {
    throw new PsicInputError(`threads must be an integer in [1, 1024], got ${String(requested ?? fromEnv)}`);
  }
  return value;
}

/**
 * Sets this process's LibTorch threads as Codec.load does: the first time (requested, else
 * PSIC_THREADS, else all cores), and whenever a count is requested.
 */
export function applyProcessThreads(requested: number | undefined): void {
  const threads = resolveThreads(requested);
  if (!threadsSet || requested !== undefined) {
    native().setThreads(threads);
    threadsSet = true;
  }
}

function callThreads(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1024) {
    throw new PsicInputError(`threads must be an integer in [1, 1024], got ${String(value)}`);
  }
  return value;
}


/** A recipient's X25519 secret key (32 bytes); undefined stays undefined. */
function identityBytes(identity: unknown): Uint8Array | undefined {
  if (identity === undefined) return undefined;
  if (!(identity instanceof Uint8Array) || identity.length !== 32) throw new PsicKeyError('identity must be a 32-byte X25519 secret key (psic keygen --x25519)');
  return identity;
}

function toBytes(input: unknown, what: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new PsicInputError(`${what} must be a Uint8Array, Buffer or ArrayBuffer`);
}

export class Codec {
  private constructor(
    private readonly model: NativeModel,
    private readonly modelInfo: NativeModelInfo,
    private readonly path: ComputePath,
    /** The most pixels an image or container may have. */
    readonly pixelLimit: number,
  ) {}

  /** Loads a psic model file (.safetensors) or a CompressAI checkpoint (.pth / .pth.tar). */
  static async load(path: string, options: CodecLoadOptions = {}): Promise<Codec> {
    if (typeof path !== 'string' || path.length === 0) throw new PsicInputError('model path must be a non-empty string');
    if (typeof options !== 'object' || options === null) throw new PsicInputError('options must be an object');
    const computePath = options.path ?? 'fast';
    if (computePath !== 'fast' && computePath !== 'compat') {
      throw new PsicInputError(`path must be 'fast' or 'compat', got ${String(computePath)}`);
    }
    const pixelLimit = validatePixelLimit(options.pixelLimit ?? defaultPixelLimit());
    const threads = resolveThreads(options.threads);
    const device = validateDevice(options.device);
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new PsicWeightsError(`model '${path}' is not a file`);
    } catch (err) {
      if (err instanceof PsicWeightsError) throw err;
      throw new PsicWeightsError(`model file '${path}' not found`);
    }
    const addon = native();
    if (!threadsSet || options.threads !== undefined) {
      addon.setThreads(threads);
      threadsSet = true;
    }
    const model = await nativeCall(() => addon.loadModel(path, device));
    return new Codec(model, model.info(), computePath, pixelLimit);
  }

  /** Where the transforms run: 'cpu' or 'cuda:N'. */
  get device(): string { return this.modelInfo.device; }

  /** Whether this psic build can run on a GPU here (a CUDA LibTorch and a visible GPU). */
  static cudaAvailable(): boolean { return native().cudaAvailable(); }

  /** @internal The addon object (attacks, batch work). */
  get nativeModel(): NativeModel { return this.model; }

  /** Model id (32 hex chars) written into every container this codec makes. */
  get modelId(): string { return this.modelInfo.modelId; }
  get architecture(): string { return this.modelInfo.architecture; }
  get config(): { architecture: string; N: number; M: number; condition_dim?: number; key_salt?: string } { return JSON.parse(this.modelInfo.config); }
  /** Where the weights came from: 'psic' (model file) or 'compressai' (checkpoint). */
  get source(): 'psic' | 'compressai' { return this.modelInfo.source; }

  /** Compresses an image (path, encoded Buffer, or raw pixels) into a .psic container. */
  async compress(input: ImageInput, options: Omit<CompressOptions, 'estimate'> = {}): Promise<Uint8Array> {
    return (await this.compressWithStats(input, { ...options, estimate: false })).container;
  }

  /** Compresses and reports rate figures and timings. */
  async compressWithStats(input: ImageInput, options: CompressOptions = {}): Promise<CompressStats> {
    const threads = callThreads(options.threads);
    const seal = this.sealOptions(options);
    const key = seal?.key ?? this.ownerKey(options.key);
    const image = await readImage(input, { pixelLimit: this.pixelLimit, background: options.background });
    const result = await nativeCall(() =>
      this.model.compress(image.data, image.width, image.height, {
        path: this.path,
        pixelLimit: this.pixelLimit,
        estimate: options.estimate ?? true,
        threads,
        key,
        ...(seal && { seal: true, recipients: seal.recipients, sealedCoding: seal.coding, publicSynthesis: seal.publicSynthesis }),
      }),
    );
    const header = native().parseContainer(result.container, this.pixelLimit);
    const payload = header.strings.reduce((n, s) => n + s.length, 0);
    return {
      container: result.container,
      width: image.width,
      height: image.height,
      bpp: bpp(result.container.length, image.width, image.height),
      payloadBpp: bpp(payload, image.width, image.height),
      estimatedBpp: result.estimatedBits / (image.width * image.height),
      timings: result.timings,
    };
  }

  /** Decompresses a .psic container made by this model. */
  async decompress(bytes: Uint8Array | ArrayBuffer, options: DecompressOptions & { output: 'float32' }): Promise<DecodedImage<Float32Array>>;
  async decompress(bytes: Uint8Array | ArrayBuffer, options?: DecompressOptions): Promise<DecodedImage<Uint8Array>>;
  async decompress(bytes: Uint8Array | ArrayBuffer, options: DecompressOptions = {}): Promise<DecodedImage> {
    return (await this.decompressWithTimings(bytes, options)).image;
  }

  /** Decompresses and reports timings. */
  async decompressWithTimings(
    bytes: Uint8Array | ArrayBuffer,
    options: DecompressOptions = {},
  ): Promise<{ image: DecodedImage; timings: NativeTimings }> {
    const data = toBytes(bytes, 'container');
    const output = options.output ?? 'uint8';
    if (output !== 'uint8' && output !== 'float32') throw new PsicInputError(`output must be 'uint8' or 'float32'`);
    checkSynthesis(options.synthesis);
    const threads = callThreads(options.threads);
    let key = this.ownerKey(options.key);
    const x25519Secret = identityBytes(options.identity);
    if (key && x25519Secret) throw new PsicInputError('give key or identity, not both');
    let condition: Float32Array | undefined;
    if (options.condition !== undefined) {
      condition = this.checkCondition(options.condition);
      key = undefined;
    }
    const r = await nativeCall(() =>
      this.model.decompress(data, { path: this.path, pixelLimit: this.pixelLimit, output, synthesis: options.synthesis, condition, key, x25519Secret, threads }),
    );
    return { image: { data: r.data, width: r.width, height: r.height, channels: 3 }, timings: r.timings };
  }

  /**
   * Compresses many images, `concurrency` at a time, with the cores shared between the jobs
   * (see BatchOptions). Resolves to one item per input, in input order: `{ok: true, value}` or,
   * for an input that failed, `{ok: false, error}` (typed, e.g. PsicInputError); the others go
   * on. Inputs are pulled (and files read) only as jobs start, so memory stays bounded by the
   * jobs running plus the containers returned; for very large batches use compressEach.
   */
  async compressMany(inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>, options: BatchOptions & { background?: Background } = {}): Promise<BatchItem<Uint8Array>[]> {
    return collectBatch(this.compressEach(inputs, { ...options, ordered: true }));
  }

  /** compressMany as an async iterator: items in input order (default) or as they complete (`ordered: false`). */
  compressEach(inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>, options: BatchIterateOptions & { background?: Background } = {}): AsyncGenerator<BatchItem<Uint8Array>, void, undefined> {
    const plan = this.planBatch(options);
    const background = validateBackground(options.background);
    if (plan.batchSize === 1) return runBatch(inputs, (input) => this.compress(input, { threads: plan.threadsPerJob, background }), plan, options);
    const opts = { path: this.path, pixelLimit: this.pixelLimit, threads: plan.threadsPerJob };
    const batcher = new MicroBatcher<RgbImage, Uint8Array>(
      async (images) => (await nativeCall(() => this.model.compressBatch(images.map((im) => ({ rgb: im.data, width: im.width, height: im.height })), opts, plan.batchSize))).map((r) => r.container),
      async (im) => (await nativeCall(() => this.model.compress(im.data, im.width, im.height, opts))).container,
      plan.batchSize,
    );
    return runBatch(inputs, async (input) => batcher.submit(await readImage(input, { pixelLimit: this.pixelLimit, background })), plan, options);
  }

  /** Decompresses many containers (bytes or .psic paths) like compressMany; `key` and `output` apply to all. */
  async decompressMany(
    inputs: Iterable<ContainerInput> | AsyncIterable<ContainerInput>,
    options: BatchOptions & Omit<DecompressOptions, 'threads'> = {},
  ): Promise<BatchItem<DecodedImage>[]> {
    return collectBatch(this.decompressEach(inputs, { ...options, ordered: true }));
  }

  /** decompressMany as an async iterator (see compressEach). */
  decompressEach(
    inputs: Iterable<ContainerInput> | AsyncIterable<ContainerInput>,
    options: BatchIterateOptions & Omit<DecompressOptions, 'threads'> = {},
  ): AsyncGenerator<BatchItem<DecodedImage>, void, undefined> {
    const plan = this.planBatch(options);
    const { output, synthesis } = options;
    // Checked once, before any job: a bad key or option is misuse, not a per-item failure.
    const key = this.ownerKey(options.key);
    const x25519Secret = identityBytes(options.identity);
    if (key && x25519Secret) throw new PsicInputError('give key or identity, not both');
    // A raw condition (research, key search) overrides the key, as in decompress().
    const rawCondition = options.condition === undefined ? undefined : this.checkCondition(options.condition);
    if (output !== undefined && output !== 'uint8' && output !== 'float32') throw new PsicInputError(`output must be 'uint8' or 'float32'`);
    const readBytes = async (input: ContainerInput) => (typeof input === 'string' ? readContainerFile(input) : input);
    if (plan.batchSize === 1) {
      return runBatch(inputs, async (input) => (await this.decompressWithTimings(await readBytes(input), { key, identity: options.identity, condition: rawCondition, output, synthesis, threads: plan.threadsPerJob })).image, plan, options);
    }
    checkSynthesis(synthesis);
    const opts = { path: this.path, pixelLimit: this.pixelLimit, output: output ?? 'uint8', synthesis, ...(rawCondition ? { condition: rawCondition } : { key, x25519Secret }), threads: plan.threadsPerJob } as const;
    const toImage = (r: { data: Uint8Array | Float32Array; width: number; height: number }): DecodedImage => ({ data: r.data, width: r.width, height: r.height, channels: 3 });
    const batcher = new MicroBatcher<Uint8Array, DecodedImage>(
      async (containers) => (await nativeCall(() => this.model.decompressBatch(containers.map((data) => ({ data })), opts, plan.batchSize))).map(toImage),
      async (data) => toImage(await nativeCall(() => this.model.decompress(data, opts))),
      plan.batchSize,
    );
    return runBatch(inputs, async (input) => batcher.submit(toBytes(await readBytes(input), 'container')), plan, options);
  }

  /**
   * The jobs at once, intra-op threads per job and images per forward a batch with these
   * options runs with (batchSize defaults to 8 on a GPU, 1 on the CPU).
   */
  planBatch(options: BatchIterateOptions = {}): BatchPlan {
    return planBatch(options, native().getThreads(), this.device === 'cpu' ? 1 : 8);
  }

  /** Decompresses straight to a PNG file's bytes. */
  async decompressToPng(bytes: Uint8Array | ArrayBuffer, options: { key?: Key } = {}): Promise<Buffer> {
    const image = await this.decompress(bytes, { key: options.key });
    return encodePng(image);
  }

  /** A raw condition: a Float32Array of conditionDim finite values (a NaN would decode to a black image). */
  private checkCondition(condition: unknown): Float32Array {
    if (!(condition instanceof Float32Array) || condition.length !== this.conditionDim || this.conditionDim === 0) {
      throw new PsicKeyError(`condition must be a Float32Array of the model's ${this.conditionDim} values`);
    }
    const bad = condition.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new PsicInputError(`condition value ${bad} is not finite (${condition[bad]})`);
    return condition;
  }

  /** Values in the condition vector (0: an unconditional model, which has a single decode). */
  get conditionDim(): number { return this.modelInfo.conditionDim; }
  /** Learnable parameter counts: total and per component. */
  get parameterCounts(): Record<string, number> { return { ...this.modelInfo.parameterCounts }; }

  /**
   * The condition a key unlocks. The reference config (the paper's public bit) has no secret:
   * any key selects its full version, beta = 0.
   */
  conditionFor(key: Key): Float32Array {
    const bytes = this.ownerKey(key)!;
    return nativeCallSync(() => this.model.keyCondition(bytes));
  }

  /** A seal's keys as bytes, checked; undefined when not sealing. */
  private sealOptions(options: CompressOptions): { key: Uint8Array; recipients: Uint8Array[]; coding: 0 | 1 | 2; publicSynthesis: -1 | 0 | 1 } | undefined {
    if (options.seal === undefined) return undefined;
    if (typeof options.seal !== 'object' || options.seal === null || options.seal.key === undefined) {
      throw new PsicInputError('seal must be {key, recipients?}: the owner key, and X25519 public keys');
    }
    if (options.key !== undefined) throw new PsicInputError('give seal.key, not key, to seal');
    const recipients = options.seal.recipients ?? [];
    if (!Array.isArray(recipients) || recipients.length > 255) throw new PsicInputError('seal.recipients must be an array of at most 255 X25519 public keys');
    const coding = { auto: 0, conditional: 1, simulcast: 2 }[options.seal.coding ?? 'auto'];
    const publicSynthesis = { auto: -1, protected: 0, backbone: 1 }[options.seal.publicSynthesis ?? 'auto'];
    if (coding === undefined) throw new PsicInputError("seal.coding must be 'auto', 'conditional' or 'simulcast'");
    if (publicSynthesis === undefined) throw new PsicInputError("seal.publicSynthesis must be 'auto', 'protected' or 'backbone'");
    return { key: this.ownerKey(options.seal.key)!, recipients: recipients.map(recipientBytes), coding: coding as 0 | 1 | 2, publicSynthesis: publicSynthesis as -1 | 0 | 1 };
  }

  /** A key's bytes, checked against this model (which must take one); undefined stays undefined. */
  private ownerKey(key: Key | undefined): Uint8Array | undefined {
    if (key === undefined) return undefined;
    const bytes = keyBytes(key);
    if (this.conditionDim === 0) throw new PsicKeyError(`model ${this.modelId} (${this.architecture}) has a single decode and takes no key`);
    return bytes;
  }

  /** Writes the CompressAI-compatible encoder side (g_a, h_a, h_s, entropy models) as a safetensors state_dict. */
  async exportEncoder(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw new PsicInputError('path must be a non-empty string');
    await nativeCall(() => this.model.exportEncoder(path));
  }

  /**
   * Writes a PSIC model's conditioning (global_cond, CLTG projections) and key salt: with the
   * checkpoint it was seeded from, all a conditioning-only training changed
   * (Codec.init({from, conditioning}) rebuilds the model).
   */
  async exportConditioning(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw new PsicInputError('path must be a non-empty string');
    await nativeCall(() => this.model.exportEncoder(path, 'conditioning'));
  }

  /**
   * A new, seeded random-init model. `from` seeds its encoder side (g_a, h_a, h_s, entropy
   * models) from another model file, e.g. a CompressAI checkpoint.
   */
  static async init(options: ModelInitOptions, loadOptions: CodecLoadOptions = {}): Promise<Codec> {
    const archs = ['psic-hyperprior', 'psic-factorized', 'psic-balle', 'reference', 'bmshj2018-hyperprior'];
    if (!archs.includes(options.architecture)) throw new PsicInputError(`architecture must be one of ${archs.join(', ')}`);
    for (const [name, v] of [['N', options.N], ['M', options.M]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 4096) throw new PsicInputError(`${name} must be an integer in [1, 4096]`);
    }
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new PsicInputError('seed must be a non-negative integer');
    if (options.conditionDim !== undefined && (!Number.isInteger(options.conditionDim) || options.conditionDim < 1)) {
      throw new PsicInputError('conditionDim must be a positive integer');
    }
    const addon = native();
    if (!threadsSet) {
      addon.setThreads(resolveThreads(loadOptions.threads));
      threadsSet = true;
    }
    const model = await nativeCall(() => addon.initModel({ ...options, seed }));
    return new Codec(model, model.info(), loadOptions.path ?? 'fast', validatePixelLimit(loadOptions.pixelLimit ?? defaultPixelLimit()));
  }

  /** Saves the model as a psic model file (safetensors + JSON config), atomically. */
  async save(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw new PsicInputError('path must be a non-empty string');
    await nativeCall(() => this.model.save(path));
  }

  /** Reads a container's header (checked, checksum included) without a model. */
  static inspect(bytes: Uint8Array | ArrayBuffer, options: { pixelLimit?: number } = {}): ContainerInfo {
    const data = toBytes(bytes, 'container');
    const limit = validatePixelLimit(options.pixelLimit ?? defaultPixelLimit());
    let header: NativeContainerHeader;
    try {
      header = native().parseContainer(data, limit);
    } catch (err) {
      throw fromNative(err);
    }
    return {
      ...header,
      strings: header.strings.map((s) => ({
        name: s.name,
        bytes: s.length,
        sha256: createHash('sha256').update(data.subarray(s.offset, s.offset + s.length)).digest('hex'),
      })),
    };
  }
}
