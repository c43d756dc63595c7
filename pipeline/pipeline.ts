import { deploy } from '../steps/deploy.js';
import { hugo } from '../steps/hugo.js';
import { image } from '../steps/image.js';
import { push } from '../steps/push.js';
import { pygments } from '../steps/pygments.js';
import { render } from '../steps/render.js';
import { smoke } from '../steps/smoke.js';
import { source } from '../steps/source.js';
import { tag } from '../steps/tag.js';
import { verify } from '../steps/verify.js';
import type { AnyStep } from './runner.js';

/** The pipeline's order, declared once. The only place pipeline/ imports steps. */
export const PIPELINE: readonly AnyStep[] = [
  source,
  tag,
  hugo,
  pygments,
  render,
  image,
  smoke,
  push,
  deploy,
  verify,
];
