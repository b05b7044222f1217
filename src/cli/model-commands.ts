// psic model init | info | export-encoder | export-conditioning.
import { Codec } from '../codec/codec.js';
import { PsicInputError } from '../errors.js';
import { UsageError, onePositional, parse, requireString, runSubcommand } from './usage.js';

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

function int(value: unknown, flag: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`missing ${flag}`);
  }
  const n = Number(value);
  if (!Number.isInteger(n)) throw new PsicInputError(`${flag} must be an integer, got ${String(value)}`);
  return n;
}

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
  const architecture = requireString(args.values.arch, '--arch') as 'psic-hyperprior';
  const conditionDim = args.values['condition-dim'] === undefined ? undefined : int(args.values['condition-dim'], '--condition-dim');
  const codec = await Codec.init({
    architecture,
    N: int(args.values.N, '--N'),
    M: int(args.values.M, '--M'),
    seed: int(args.values.seed, '--seed', 0),
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
    const codec = await Codec.load(onePositional(args.positionals, 'model file'));
    const output = requireString(args.values.output, '-o OUT.safetensors');
    await (part === 'encoder' ? codec.exportEncoder(output) : codec.exportConditioning(output));
    process.stdout.write(`${output}: ${part === 'encoder' ? 'encoder side' : 'conditioning'} of ${codec.modelId}\n`);
  };
}

export async function modelCommand(argv: string[]): Promise<void> {
  await runSubcommand('model', argv, HELP, { init, info, 'export-encoder': exportPart('encoder'), 'export-conditioning': exportPart('conditioning') });
}
