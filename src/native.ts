// The shape of the N-API addon (binding/), and the one place that loads it.
// Everything here is internal: the public API wraps it in src/codec/codec.ts.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeModelInfo {
  /** 'bmshj2018-hyperprior' for now. */
  architecture: string;
  N: number;
  M: number;
  /** 32 hex chars: the first 16 bytes of SHA-256 over the config and every weight. */
  modelId: string;
  /** Canonical JSON of the model config. */
  config: string;
  /** Where the weights came from: 'psic' (our safetensors model file) or 'compressai' (torch checkpoint). */
  source: 'psic' | 'compressai';
  /** Values in a PSIC model's condition vector; 0 for unconditional models. */
  conditionDim: number;
  /** Learnable parameters: total and per component (g_a, h_a, h_s, entropy_bottleneck, g_s | g_s_cond, global_cond, cltg_projections). */
  parameterCounts: Record<string, number>;
  /** Where the transforms run: 'cpu' or 'cuda:N' (entropy coding always runs on the CPU). */
  device: string;
}

export interface NativeTimings {
  /** Milliseconds spent in neural transforms (g_a, h_a, h_s, g_s). */
  transformMs: number;
  /** Milliseconds spent in entropy coding (quantization, index building, rANS). */
  entropyMs: number;
  totalMs: number;
}

export interface NativeCompressResult {
  container: Uint8Array;
  timings: NativeTimings;
  /** Estimated bits from the model likelihoods (y and z), for "estimated bpp". */
  estimatedBits: number;
}

export interface NativeDecompressResult {
  /** HWC RGB. uint8 (rounded x̂·255) or float32 in [0,1] when output = 'float32'. */
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  timings: NativeTimings;
}

export type SynthesisPath = 'subpixel' | 'transposed';

export interface NativeCodecOptions {
  /** 'compat' = CompressAI's op sequence (NCHW, ConvTranspose2d); 'fast' = channels-last + sub-pixel decoder. */
  path: 'compat' | 'fast';
  /** Only for decompress: overrides the synthesis implementation (benchmarks). */
  synthesis?: SynthesisPath;
  output?: 'uint8' | 'float32';
  pixelLimit: number;
  /** Also compute the model's estimated bits (-log2 likelihoods); costs extra time. */
  estimate?: boolean;
  /** The owner's key bytes: compress writes a key check (or seals); decompress checks it and decodes full. */
  key?: Uint8Array;
  /** compress: a sealed file (version 3) for the owner's key and these X25519 recipients. */
  seal?: boolean;
  recipients?: Uint8Array[];
  /** decompress: a recipient's X25519 secret key (sealed files). */
  x25519Secret?: Uint8Array;
  /** Sealing, for measurements: 0 the smaller coding, 1 conditional, 2 simulcast; public synthesis -1 auto, 0 protected, 1 backbone. */
  sealedCoding?: 0 | 1 | 2;
  publicSynthesis?: -1 | 0 | 1;
  /** Only for decompress on PSIC models: the condition vector (conditionDim values); absent = protected. */
  condition?: Float32Array;
  /** Intra-op threads for this call; absent = the process setting. */
  threads?: number;
}

export interface NativeContainerHeader {
  version: number;
  modelId: string;
  width: number;
  height: number;
  padding: { left: number; right: number; top: number; bottom: number };
  yShape: [number, number, number];
  zShape: [number, number, number];
  headerBytes: number;
  totalBytes: number;
  checksum: number;
  /** Version 2: the file carries a key check (compressed with the owner's key). */
  keyCheck: boolean;
  /** Version 3: the full image is sealed; only the protected image is public. */
  sealed: boolean;
  seal?: {
    /** Header and public strings; the sealed section; the recipients' key stanzas. */
    publicBytes: number; sealedBytes: number; stanzaBytes: number;
    recipients: number;
    coding: 'conditional' | 'simulcast';
    publicSynthesis: 'protected' | 'backbone';
  };
  /** Byte offset and length of each entropy-coded string inside the container. */
  strings: { name: 'z' | 'y'; offset: number; length: number }[];
}

export interface NativeWeightedTarget { target: NativeTarget; weight: number }
export interface NativePgdOptions { epsilon: number; steps: number; stepSize: number; randomStart: boolean; seed: number }
export interface NativeKeySearchOptions {
  objective: 'target' | 'pixels'; steps: number; restarts: number; lr: number; bounded: boolean; traceEvery: number; seed: number;
}
export interface NativeKeySearchResult { condition: Float32Array; objective: number; traces: number[][] }

export interface NativeModel {
  info(): NativeModelInfo;
  compress(rgb: Uint8Array, width: number, height: number, opts: NativeCodecOptions): Promise<NativeCompressResult>;
  decompress(container: Uint8Array, opts: NativeCodecOptions): Promise<NativeDecompressResult>;
  /** One transform forward per group of equal-size images (at most maxBatch); results in input order. */
  compressBatch(images: { rgb: Uint8Array; width: number; height: number }[], opts: NativeCodecOptions, maxBatch: number): Promise<NativeCompressResult[]>;
  decompressBatch(containers: { data: Uint8Array; condition?: Float32Array; key?: Uint8Array }[], opts: NativeCodecOptions, maxBatch: number): Promise<NativeDecompressResult[]>;
  /** The full-decode condition a key unlocks on this model (cpp/models/keys.h). */
  keyCondition(key: Uint8Array): Float32Array;
  /** Write the model as a psic model file (safetensors + JSON config). */
  save(path: string): Promise<void>;
  /** Write the CompressAI-compatible encoder side (g_a, h_a, h_s, entropy models) as a safetensors state_dict. */
  /** part 'conditioning': global_cond and the CLTG projections, with the key salt. */
  exportEncoder(path: string, part?: 'encoder' | 'conditioning'): Promise<void>;
}

export interface NativeInitOptions {
  architecture: string;
  N: number;
  M: number;
  conditionDim?: number;
  seed: number;
  /** A model file whose encoder side seeds the new model's (e.g. a CompressAI checkpoint). */
  from?: string;
  /** A psic conditioning file applied last. */
  conditioning?: string;
}

export interface NativeClipInfo {
  embedDim: number;
  imageResolution: number;
  visionLayers: number;
  visionWidth: number;
  visionPatchSize: number;
  contextLength: number;
  vocabSize: number;
  transformerWidth: number;
  transformerLayers: number;
  /** Stored as a log; logits are exp(logitScale) · cosine. */
  logitScale: number;
}

export interface NativeFeatures {
  data: Float32Array;
  shape: [number, number];
}

export interface NativeClip {
  info(): NativeClipInfo;
  encodeImage(data: Float32Array, shape: number[]): Promise<NativeFeatures>;
  encodeText(ids: Int32Array, shape: number[]): Promise<NativeFeatures>;
  /** One forward + backward of the image tower on random images (benchmarks). */
  imageTrainStep(batch: number): Promise<void>;
}

export interface NativeTfjsGraph {
  info(): { input: string; outputs: string[]; ops: string[]; inputShape: number[] };
  /** Forward + backward of the sum of the named outputs w.r.t. the input (benchmarks). */
  runBackward(data: Float32Array, shape: number[], outputs: string[]): Promise<void>;
  /** Runs the graph on NHWC float32; every output (ints as floats) by node name. */
  run(data: Float32Array, shape: number[]): Promise<Record<string, { data: Float32Array; shape: number[] }>>;
}

export type TargetHeadKind = 'classifier' | 'embedding' | 'regression' | 'detector';

export interface NativeTargetHead {
  name: string;
  kind: TargetHeadKind;
  /** Class names (classifier, detector); empty otherwise. */
  labels: string[];
}

export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

export interface NativeTarget {
  info(): { name: string; preprocessing: string; heads: NativeTargetHead[] };
  /** images: NCHW RGB in [0, 1]. One tensor per head; detectors also give [B, K, 6] detections. */
  forward(images: Float32Array, shape: number[]): Promise<{ heads: NativeTensor[]; detections?: NativeTensor }>;
  /** Forward + backward of the sum of every head on random images (benchmarks). */
  forwardBackward(shape: number[]): Promise<void>;
}

export interface NativeStepMetrics {
  step: number;
  mode: 'full' | 'protected' | 'mixed';
  loss: number;
  bpp: number;
  auxLoss: number;
  psnrFull: number | null;
  psnrProtected: number | null;
  psnrWrongKey: number | null;
  attackLoss: number | null;
  attackAccuracy: number | null;
  distortionWeight: number;
  attackWeight: number;
  gradNorm: number;
  /** Distributed: some rank asked to stop after this step, so every rank does. */
  stop: boolean;
}

export interface NativeTrainer {
  info(): {
    stepsDone: number; config: string; attackWeight: number; trainable: string[];
    /** The starting model's id (32 hex), architecture and condition size. */
    modelId: string; architecture: string; conditionDim: number;
    /** The condition salt the run fixed (the model's own, else trainingKeySalt(modelId, seed)) and the key's condition. */
    keySalt: string; fullCondition: Float32Array;
  };
  /** captionTokens: B rows of CLIP token ids, for vision-language targets. */
  step(images: Float32Array, shape: number[], captionTokens?: Int32Array): Promise<NativeStepMetrics>;
  saveModel(path: string): Promise<void>;
  saveCheckpoint(path: string, callerStateJson: string): Promise<void>;
  loadCheckpoint(path: string): Promise<string>;
  /** SHA-256 of every state tensor's bytes, by name. */
  stateDigest(): Record<string, string>;
  /** Distributed: every rank stops after the same step. Safe while a step runs. */
  requestStop(): void;
}

export interface NativeAddon {
  /**
   * A PSIC trainer: configJson is a training config (cpp/training/trainer_config.h; the model path
   * as the addon opens it), key the owner's key bytes. Loads the model, fixes its key salt and the
   * key's condition; with distributed.worldSize > 1 joins the other ranks, which must pass the
   * same fingerprint (what the caller's side of the run holds: data, steps, targets).
   */
  createTrainer(configJson: string, key: Uint8Array, targets: NativeWeightedTarget[], fingerprint: string): Promise<NativeTrainer>;
  /** Validates a training config (JSON) and returns it with every default filled in; PsicConfigError naming the field. */
  resolveTrainingConfig(configJson: string): string;
  /** The condition salt a training run fixes: first 16 bytes of SHA-256("psic/key-salt/v1/" + id + "/" + seed), hex. */
  trainingKeySalt(startModelId: string, seed: number): string;
  /** A human model (gear, age, gender, emotion, mobileface, centernet) with its preprocessing, as a target. */
  /** Per-image L∞ PGD against the targets (cpp/attacks/pgd_cloak.h). */
  pgdCloak(targets: NativeWeightedTarget[], images: Float32Array, shape: number[], options: NativePgdOptions): Promise<NativeTensor>;
  /** The key-search adversary (cpp/attacks/key_search.h): one condition for all containers. */
  keySearch(model: NativeModel, containers: Uint8Array[], originals: Uint8Array[], targets: NativeWeightedTarget[],
            options: NativeKeySearchOptions): Promise<NativeKeySearchResult>;
  loadHumanTarget(name: string, modelJsonPath: string): Promise<NativeTarget>;
  /** CLIP as a target: its embedding, plus a zero-shot classifier when class prompts are given. */
  clipTarget(clip: NativeClip, name: string, classTokens: Int32Array | null, contextLength: number, classNames: string[]): Promise<NativeTarget>;
  /** A TF.js graph model (model.json + shards) imported into LibTorch. */
  loadTfjsGraph(path: string): Promise<NativeTfjsGraph>;
  /** CLIP weights: OpenAI .pt (TorchScript), state_dict .pt, .safetensors (OpenAI or Hugging Face names). */
  loadClip(path: string): Promise<NativeClip>;
  /** A CLIP with random weights of a published shape (benchmarks). */
  randomClip(shape: 'ViT-B/32', seed?: number): Promise<NativeClip>;
  /** CLIP's tokenizer: [texts.length × contextLength] ids. */
  clipTokenize(vocabPath: string, texts: string[], contextLength: number, truncate: boolean): Int32Array;
  /** OpenAI's _transform(resolution) of RGB pixels (HWC): [3, R, R] normalized. */
  clipPreprocess(images: { rgb: Uint8Array; width: number; height: number }[], resolution: number): Promise<Float32Array>;
  /** Loads a psic model file (.safetensors) or a CompressAI state_dict (.pth/.pth.tar). */
  loadModel(path: string, device?: string): Promise<NativeModel>;
  /** Whether this build is a CUDA one and sees a GPU. */
  cudaAvailable(): boolean;
  initModel(options: NativeInitOptions): Promise<NativeModel>;
  /** Parses and verifies a container header and checksum. Throws PsicFormatError / PsicLimitError. */
  parseContainer(bytes: Uint8Array, pixelLimit: number): NativeContainerHeader;
  /** The container size its first bytes declare (at least containerMaxHeaderBytes of them, or the whole file). */
  declaredContainerSize(head: Uint8Array): number;
  containerMaxHeaderBytes: number;
  /** A fresh X25519 key pair, or the pair of a secret key. */
  x25519KeyPair(secretKey?: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array };
  /** The default pixel limit: what half of this machine's RAM decodes (cpp/codec.h). */
  defaultPixelLimit(): number;
  /** HKDF-SHA256(key, salt, "psic/condition/v1") mapped to dims values in [-1, 1] (cpp/models/keys.h). */
  deriveCondition(key: Uint8Array, saltHex: string, dims: number): Float32Array;
  /** Sets LibTorch intra-op threads for this process. */
  setThreads(threads: number): void;
  getThreads(): number;
  /** Standalone rANS (CompressAI-compatible), for tests and benchmarks. cdfs is a row-major [rows, cdfStride] table. */
  ransEncode(symbols: Int32Array, indexes: Int32Array, cdfs: Int32Array, cdfStride: number,
             cdfLengths: Int32Array, offsets: Int32Array): Uint8Array;
  ransDecode(bytes: Uint8Array, indexes: Int32Array, cdfs: Int32Array, cdfStride: number,
             cdfLengths: Int32Array, offsets: Int32Array): Int32Array;
}

/** Error thrown by the addon: a plain Error whose `code` names the psic error class. */
export interface NativeError extends Error {
  code: 'PsicError' | 'PsicFormatError' | 'PsicModelMismatchError' | 'PsicLimitError' | 'PsicInputError' |
    'PsicWeightsError' | 'PsicKeyError' | 'PsicDistributedError' | 'PsicDeviceError' | 'PsicConfigError' | 'PsicIoError' |
    'PsicIntegrityError';
}

let cached: NativeAddon | undefined;

/**
 * The OpenBLAS core type psic wants for this CPU (same rule as cpp/util/blas_core_type.cpp):
 * OpenBLAS picks its sgemm kernels, and so the float rounding of BLAS-backed convolutions, from
 * OPENBLAS_CORETYPE when it loads. CompressAI's reference bitstreams were made with the kernels
 * OpenBLAS itself detects on an AVX-512-BF16 CPU (Cooperlake); some environments pin a lesser
 * type. PSIC_OPENBLAS_CORETYPE overrides; '' leaves OpenBLAS's own detection.
 */
export function preferredOpenBlasCoreType(): string {
  if (process.env.PSIC_OPENBLAS_CORETYPE !== undefined) return process.env.PSIC_OPENBLAS_CORETYPE;
  let flags = '';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    flags = ` ${line ?? ''} `;
  } catch {
    return '';
  }
  const has = (f: string) => flags.includes(` ${f} `);
  const avx512 = has('avx512f') && has('avx512bw') && has('avx512dq') && has('avx512vl');
  if (avx512 && has('avx512_bf16')) return 'Cooperlake';
  if (avx512) return 'SkylakeX';
  if (has('avx2') && has('fma')) return 'Haswell';
  return '';
}

/**
 * The addon file, in node-gyp-build's order: a local build (build/Release/psic.node: made by
 * scripts/setup.sh in a checkout, or by the install-time cmake-js fallback when no prebuild
 * matched), else the prebuild matching this platform (prebuilds/linux-x64/*.node, from
 * `npm run prebuild`). PSIC_PREBUILD=DIR looks in DIR instead (node-gyp-build's override).
 */
export function addonPath(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');  // from src/ or dist/
  const require = createRequire(import.meta.url);
  try {
    return (require('node-gyp-build') as { resolve(dir: string): string }).resolve(root);
  } catch (err) {
    throw new Error(
      `psic native addon not found: no ${join(root, 'build', 'Release', 'psic.node')} and no prebuild for ` +
        `${process.platform}-${process.arch} in ${join(root, 'prebuilds')} (${(err as Error).message.split('\n')[0]}); ` +
        'in a checkout run: bash scripts/setup.sh',
    );
  }
}

/** Loads the addon (see addonPath), after pinning the OpenBLAS core type. */
export function native(): NativeAddon {
  if (cached) return cached;
  const found = addonPath();
  // Must happen before LibTorch (and OpenBLAS with it) is loaded into the process.
  const coreType = preferredOpenBlasCoreType();
  if (coreType) process.env.OPENBLAS_CORETYPE = coreType;
  const require = createRequire(import.meta.url);
  cached = require(found) as NativeAddon;
  return cached;
}
