// psic model init | info | export-encoder | export-conditioning.
import { Codec, type ModelInitOptions } from '../codec/codec.js';
import { choiceFlag, intFlag, onePositional, parse, refuseOutputOverInput, requireString, runSubcommand } from './usage.js';

const ARCHITECTURES = ['psic-hyperprior', 'psic-factorized', 'psic-balle', 'reference', 'bmshj2018-hyperprior'] as const;

const HELP = `Usage:
  psic model init --arch psic-hyperprior|psic-factorized|psic-balle|reference --N n --M m [--seed s] [--condition-dim d] [--from CKPT] [--conditioning C] -o M
      a seeded random-init model file; --from seeds the encoder side (g_a, h_a, h_s, entropy
      models; and g_s for psic-balle) from a CompressAI checkpoint or another model file;
      --conditioning then applies a conditioning file (export-conditioning) and its key salt
  psic model info M [--json]
      config, model id and parameter counts per component (total, g_a, h_a, h_s,
      entropy_bottleneck, g_s or g_s_cond, global_cond, cltg_projections)
  psic model export-encoder M -o OUT.safetensors
      the CompressAI-compatible encoder side under CompressAI's names
  psic model export-conditioning M -o OUT.safetensors
      a PSIC model's global_cond and CLTG projections with its key salt: with the checkpoint
      it was seeded from, all a conditioning-only training changed
`;

async function init(argv: string[]): Promise<void> {
  const args = parse(
    argv,
    {
      arch: { type: 'string' },
      N: { type: 'string' },
      M: { type: 'string' },
      seed: { type: 'string' },
      'condition-dim': { type: 'string' },
      from: { type: 'string' },
      conditioning: { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
    HELP,
  );
  if (!args) return;
  const output = requireString(args.values.output, '-o M');
  const architecture = choiceFlag(requireString(args.values.arch, '--arch'), '--arch', ARCHITECTURES) as ModelInitOptions['architecture'];
  const N = intFlag(requireString(args.values.N, '--N'), '--N', 1, 4096)!;
  const M = intFlag(requireString(args.values.M, '--M'), '--M', 1, 4096)!;
  const seed = intFlag(args.values.seed, '--seed', 0) ?? 0;
  const conditionDim = intFlag(args.values['condition-dim'], '--condition-dim', 1, 4096);
  const inputs = [args.values.from, args.values.conditioning].filter((p): p is string => typeof p === 'string');
  await refuseOutputOverInput(output, inputs);
  const codec = await Codec.init({
    architecture,
    N,
    M,
    seed,
    conditionDim,
    from: args.values.from as string | undefined,
    conditioning: args.values.conditioning as string | undefined,
  });
  await codec.save(output);
  process.stdout.write(`${output}: ${codec.architecture}, model id ${codec.modelId}, ${codec.parameterCounts.total} parameters\n`);
}

async function info(argv: string[]): Promise<void> {
  const args = parse(argv, { json: { type: 'boolean' } }, HELP);
  if (!args) return;
  const codec = await Codec.load(onePositional(args.positionals, 'model file'));
  const report = {
    config: codec.config,
    modelId: codec.modelId,
    source: codec.source,
    conditionDim: codec.conditionDim,
    parameterCounts: codec.parameterCounts,
  };
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    [`architecture ${codec.architecture} (N=${codec.config.N}, M=${codec.config.M}, condition ${codec.conditionDim})`, `model id     ${codec.modelId}`,
      ...Object.entries(report.parameterCounts).map(([k, v]) => `params       ${k.padEnd(20)} ${v}`)].join('\n') + '\n',
  );
}

function exportPart(part: 'encoder' | 'conditioning') {
  return async (argv: string[]): Promise<void> => {
    const args = parse(argv, { output: { type: 'string', short: 'o' } }, HELP);
    if (!args) return;
    const model = onePositional(args.positionals, 'model file');
    const output = requireString(args.values.output, '-o OUT.safetensors');
    await refuseOutputOverInput(output, [model]);
    const codec = await Codec.load(model);
    await (part === 'encoder' ? codec.exportEncoder(output) : codec.exportConditioning(output));
    process.stdout.write(`${output}: ${part === 'encoder' ? 'encoder side' : 'conditioning'} of ${codec.modelId}\n`);
  };
}

export async function modelCommand(argv: string[]): Promise<void> {
  await runSubcommand('model', argv, HELP, { init, info, 'export-encoder': exportPart('encoder'), 'export-conditioning': exportPart('conditioning') });
}
