export { Codec } from './codec/codec.js';
export type { CodecLoadOptions, CompressOptions, SealOptions, CompressStats, ComputePath, ContainerInfo, ContainerInput, DecodedImage, DecompressOptions, Device, ModelInitOptions } from './codec/codec.js';
export { threadpoolSize } from './codec/batch.js';
export type { BatchItem, BatchIterateOptions, BatchOptions, BatchPlan } from './codec/batch.js';
export { deriveCondition, formatRecipient, generateKey, generateX25519KeyPair, hkdfSha256, readAnyKeyFile, readKeyFile, recipientBytes, writeKeyFile, x25519PublicKey } from './keys.js';
export type { Key, KeyFileContent, Recipient, X25519KeyPair } from './keys.js';
export {
  PsicConfigError,
  PsicDistributedError,
  PsicDeviceError,
  PsicIntegrityError,
  PsicIoError,
  PsicError,
  PsicFormatError,
  PsicInputError,
  PsicKeyError,
  PsicLimitError,
  PsicModelMismatchError,
  PsicWeightsError,
} from './errors.js';
export { defaultPixelLimit, encodePng, readImage, writePng } from './io/image-io.js';
export type { ImageInput, RawImage, RgbImage } from './io/image-io.js';
export { bpp, psnr } from './evaluate/metrics.js';
export { MS_SSIM_MIN_SIDE, SsimReference, msSsim, msSsimDb, ssim } from './evaluate/msssim.js';
export type { SsimImage } from './evaluate/msssim.js';
export { Clip } from './targets/clip.js';
export type { ClipLoadOptions, Features, ImageTensor } from './targets/clip.js';
export { ASSETS, assetPath, cacheDir, fetchAsset, verifyAsset } from './io/assets.js';
export { HUMAN_MODELS, TargetModel, TfjsTarget, humanModelPath, imageBatch } from './targets/target-model.js';
export type { Detection, HeadPrediction, ImageBatch, TargetHead, TargetHeadKind, TargetLoadOptions, TargetPrediction } from './targets/target-model.js';
export { evaluateTarget } from './evaluate/target.js';
export type { EvaluateTargetOptions, HeadReport, TargetReport } from './evaluate/target.js';
export * as evaluate from './evaluate/index.js';
export { evaluateRd } from './evaluate/rd.js';
export { evaluateAttack } from './evaluate/attack.js';
export { evaluateAll } from './evaluate/all.js';
export type { RdMeasure, RdModelInfo, RdOptions, RdPoint, RdReport, RdRow, RdSeries, RdSeriesId } from './evaluate/rd.js';
export type { AttackEvalOptions, AttackEvalReport, TargetAttackReport } from './evaluate/attack.js';
export type { AllEvalOptions, AllEvalReport } from './evaluate/all.js';
export type { BaselineCodec } from './evaluate/baselines.js';
export { Trainer, keySaltFor } from './training/trainer.js';
export type { DistributedConfig, ResolvedTrainerConfig, StepLog, TrainerConfig } from './training/trainer.js';
export { launchRanks } from './training/launch.js';
export type { LaunchOptions } from './training/launch.js';
export { ImageDataset } from './training/dataset.js';
export type { DatasetOptions, DatasetState, TrainingBatch } from './training/dataset.js';
export { cloak, keySearch } from './evaluate/attacks.js';
export type { AttackTargets, CloakOptions, KeySearchOptions, KeySearchResult } from './evaluate/attacks.js';
