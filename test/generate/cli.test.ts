// The attnode command: flag errors name the flag and the allowed values, inspect's tables,
// generate streaming the default model's text to stdout (argument and stdin).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { main } from '../../ts/cli.js';
import { LanguageModel } from '../../ts/generate/model.js';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  const log = console.log;
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  console.log = (...a: unknown[]) => void (out += a.join(' ') + '\n');
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    console.log = log;
  }
}

describe('attnode CLI', () => {
  it('names the bad flag and its allowed values', async () => {
    const cases: [string[], RegExp][] = [
      [['generate', '--backend', 'gpu', 'hi'], /--backend must be one of native, webgpu, cuda, reference, got 'gpu'/],
      [['generate', '--dtype', 'q3', 'hi'], /--dtype must be one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, got 'q3'/],
      [['generate', '--top-p', '1.5', 'hi'], /--top-p must be a number in \(0, 1\], got 1\.5/],
      [['generate', '--top-k', 'many', 'hi'], /--top-k must be an integer >= 0, got 'many'/],
      [['generate', '--max-tokens=-1', 'hi'], /--max-tokens must be an integer >= 0, got -1/],
      [['generate', '--typical-p', '0', 'hi'], /--typical-p must be a number in \(0, 1\], got 0/],
      [['generate', '--threads', '0', 'hi'], /--threads must be an integer >= 1/],
      [['generate', '--logit-bias', 'x', 'hi'], /--logit-bias must look like <token id>=<bias>/],
      [['generate', '--colour', 'hi'], /Unknown option '--colour'[\s\S]*allowed options: .*--temperature/],
      [['generate', '--model', 'nope.gguf', 'hi'], /--model: file 'nope.gguf' does not exist/],
      [['inspect', '--config', 'gpt5'], /--config must be one of gpt2, gpt2-xl, gpt3-175b, llama2-7b, got 'gpt5'/],
      [['frobnicate'], /unknown command 'frobnicate'; commands: generate, translate, summarize, inspect, bench, demo, serve, embed, rerank, classify, ner, fill-mask, convert, quantize, help/],
      [['generate', '--num-beams', '4', '--top-k', '3', 'hi'], /--top-k is not accepted with --num-beams > 1/],
      [['generate', '--num-beams', '2', '--num-return-sequences', '3', 'hi'], /--num-return-sequences must be at most --num-beams \(2\), got 3/],
      [['generate', '--num-beams', '2', '--early-stopping', 'maybe', 'hi'], /--early-stopping must be true, false or 'never', got 'maybe'/],
      [['serve', '--port', 'x'], /--port must be an integer >= 0 and <= 65535, got 'x'/],
      [['serve', '--workers', '0'], /--workers must be an integer >= 1/],
      [['serve', '--max-batch-tokens', '0'], /--max-batch-tokens must be an integer >= 1, got '0'/],
    ];
    for (const [argv, msg] of cases) {
      const r = await capture(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });

  it('inspect prints the GPT-3 175B table and KV-cache sizes', async () => {
    const r = await capture(['inspect', '--config', 'gpt3-175b']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/attention Q\s+151,007,232\s+14,496,694,272/);
    expect(r.out).toMatch(/total\s+174,604,259,328\s+\(174\.60B\)/);
    expect(r.out).toMatch(/2048\s+18\.0 GiB\s+9\.0 GiB/);
    // 3Blue1Brown's matrix accounting beside the exact count, with the reason they differ.
    expect(r.out).toMatch(/key\s+150,994,944\s+14,495,514,624/);
    expect(r.out).toMatch(/up-projection\s+603,979,776\s+57,982,058,496/);
    expect(r.out).toMatch(/total\s+175,181,291,520\s+\(exact count 174,604,259,328\)/);
    expect(r.out).toMatch(/difference -577,032,192: the exact count adds biases 10,616,832, position embedding 25,165,824, norm weights 4,743,168 and counts the tied unembedding once/);
    const j = JSON.parse((await capture(['inspect', '--config', 'gpt2', '--json'])).out) as { total: number };
    expect(j.total).toBe(124_439_808);
  });

  it('inspect reads the default model by default', async () => {
    const r = await capture(['inspect']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/attnode-fortunes-7m \(gpt2\)/);
    expect(r.out).toMatch(/vocab 50257, context 128, d_model 128, layers 4, heads 4 x 32/);
  });

  it('generate streams the default model to stdout, the same for the same seed', async () => {
    const a = await capture(['generate', '--seed', '5', '--max-tokens', '12', '--stats', 'Once upon a time']);
    expect(a.code).toBe(0);
    expect(a.out.startsWith('Once upon a time')).toBe(true);
    expect(a.out.length).toBeGreaterThan('Once upon a time'.length + 5);
    expect(a.err).toMatch(/seed 5, finish (length|eos|stop).*decode [\d.]+ tok\/s/);
    const b = await capture(['generate', '--seed', '5', '--max-tokens', '12', 'Once upon a time']);
    expect(b.out).toBe(a.out);
  });

  it('generate --num-beams prints the best beam, the others with scores on stderr', async () => {
    const prompt = 'Once upon a time';
    const a = await capture(['generate', '--num-beams', '4', '--num-return-sequences', '2', '--max-tokens', '10', '--early-stopping', 'never', prompt]);
    expect(a.code, a.err).toBe(0);
    const lm = await LanguageModel.load();
    try {
      const r = await lm.generate(prompt, { numBeams: 4, numReturnSequences: 2, maxTokens: 10, earlyStopping: 'never' });
      expect(a.out).toBe(prompt + r.text + '\n');
      expect(a.err).toContain(`[2] score ${r.sequences![1]!.score.toFixed(4)}: ${prompt}${r.sequences![1]!.text}`);
    } finally {
      lm.dispose();
    }
  });

  it('generate --chat renders the prompt with the model\'s own chat template and prints only the answer', async () => {
    // A GGUF whose tokenizer.chat_template is the Mistral-style fixture template.
    const model = join(import.meta.dirname, '..', 'fixtures', 'models', 'mistral-tiny', 'model-f32.gguf');
    const r = await capture(['generate', '--chat', '--system', 'Be brief.', '--model', model, '--temperature', '0', '--max-tokens', '4', 'hi']);
    expect(r.code, r.err).toBe(0);
    const lm = await LanguageModel.load(model);
    try {
      const text = lm.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }]);
      expect(text).toBe('<0x01> [INST] Be brief.\n\nhi [/INST]');
      expect(r.out).toBe(`${(await lm.generate(text, { temperature: 0, maxTokens: 4 })).text}\n`);
    } finally {
      lm.dispose();
    }
    const bad = await capture(['generate', '--system', 'x', 'hi']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--system needs --chat/);
    expect((await capture(['generate', '--chat', 'hi'])).err).toMatch(/has no chat template .*not a chat model/);
  });

  it('reads the prompt from stdin when none is given', () => {
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const r = spawnSync(process.execPath, [tsx, 'ts/cli.ts', 'generate', '--temperature', '0', '--max-tokens', '6'], { input: 'The cat\n', encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.startsWith('The cat')).toBe(true);
    expect(r.stderr).toMatch(/loading .*model\.gguf: done/); // plain lines, not a bar, when not a terminal
  });
});
