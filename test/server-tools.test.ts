// `tools`, assistant tool_calls and tool messages in /v1/chat/completions: what the route hands a
// worker (through the pool, to a stand-in engine that echoes it) renders with each family's
// template exactly as Python's Jinja2 renders the Hugging Face form of the same conversation
// (test/fixtures/chat-templates/goldens.json, tools/reference/render_chat_templates.py); then a
// real model served over HTTP renders the same prompt as LanguageModel.applyChatTemplate.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplateError, renderChatTemplate, type ChatMessage } from '../dist/generate/chat.js';
import { errorResponse } from '../dist/server/errors.js';
import { LanguageModel } from '../dist/generate/model.js';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { createServer } from '../dist/server/server.js';

const DIR = join(import.meta.dirname, 'fixtures', 'chat-templates');
const CONVERSATIONS = JSON.parse(readFileSync(join(DIR, 'conversations.json'), 'utf8')) as {
  tokens: Record<string, { bos_token: string; eos_token: string }>;
  conversations: Record<string, { messages: ChatMessage[]; tools?: Record<string, unknown>[] }>;
};
const GOLDENS = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8')) as { header: { script: string }; renders: Record<string, { text?: string; error?: string }> };
const FAMILIES = Object.keys(CONVERSATIONS.tokens);
const HF = CONVERSATIONS.conversations.tools!;

/** The tools conversation as an OpenAI client sends it: call ids, arguments as JSON text, tool_call_id. */
const OPENAI_TOOLS = {
  tools: HF.tools,
  messages: HF.messages.map((m) => (m.tool_calls
    ? { ...m, tool_calls: m.tool_calls.map((c, i) => ({ id: `call_${i}`, type: 'function', function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) } })) }
    : m.role === 'tool' ? { ...m, tool_call_id: 'call_0' } : m)),
};

async function post(base: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
const content = (json: Record<string, unknown>) => ((json.choices as { message: { content: string } }[])[0]!.message.content);

describe('tools through the HTTP chat API (stand-in engine)', () => {
  let pool: InferencePool;
  let app: ReturnType<typeof createServer>;
  let base: string;
  beforeAll(async () => {
    pool = createPool({ engineModule: new URL('./fixtures/chat-echo-engine.mjs', import.meta.url), workers: 1, threadsPerWorker: 1 });
    app = createServer({ pool, modelName: 'echo' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it("hands the worker Hugging Face's form: tools as given, arguments as objects", async () => {
    const r = await post(base, OPENAI_TOOLS);
    expect(r.status).toBe(200);
    const got = JSON.parse(content(r.json)) as { messages: ChatMessage[]; tools: unknown };
    expect(got.tools).toEqual(HF.tools);
    expect(got.messages[2]!.tool_calls![0]!.function.arguments).toEqual({ city: 'Paris' });
    expect(got.messages[3]!.tool_call_id).toBe('call_0');
  });

  for (const family of FAMILIES)
    it(`${family}: what the worker gets renders as Jinja2 renders the conversation with tools`, async () => {
      expect(GOLDENS.header.script).toBe('tools/reference/render_chat_templates.py');
      const got = JSON.parse(content((await post(base, OPENAI_TOOLS)).json)) as { messages: ChatMessage[]; tools: Record<string, unknown>[] };
      const golden = GOLDENS.renders[`${family}/tools/generation`]!;
      const t = CONVERSATIONS.tokens[family]!;
      const render = () => renderChatTemplate(readFileSync(join(DIR, `${family}.jinja`), 'utf8'), got.messages, { tools: got.tools, addGenerationPrompt: true, bosToken: t.bos_token, eosToken: t.eos_token });
      if (golden.error !== undefined) expect(render).toThrow(golden.error);
      else expect(render()).toBe(golden.text);
    });

  it("tool_choice 'none' leaves the tools out; a message without content needs tool_calls", async () => {
    const none = JSON.parse(content((await post(base, { ...OPENAI_TOOLS, tool_choice: 'none' })).json)) as { tools: unknown };
    expect(none.tools).toBeNull();
    const bad = await post(base, { messages: [{ role: 'user', content: null }] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/messages\[0\]\.content' must be a string/);
  });

  it("a template's refusal (raise_exception) is the request's fault: 400", () => {
    expect(errorResponse(new ChatTemplateError('chat template: Conversation roles must alternate')).status).toBe(400);
  });

  it.each([
    ['arguments that are not JSON', { messages: [{ role: 'assistant', content: null, tool_calls: [{ function: { name: 'f', arguments: '{city' } }] }] }, /tool_calls\[0\]\.function\.arguments' must be a JSON object text/],
    ['a tool without a function', { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }, /tools\/0 must have required property 'function'/],
    ['a tool of another type', { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'retrieval', function: { name: 'f' } }] }, /tools\/0\/type must be equal to one of the allowed values/],
    ["tool_choice 'required'", { messages: [{ role: 'user', content: 'x' }], tool_choice: 'required' }, /tool_choice must be equal to one of the allowed values/],
  ])('refuses %s with a 400 naming it', async (_what, body, msg) => {
    const r = await post(base, body);
    expect(r.status).toBe(400);
    expect((r.json.error as { message: string }).message).toMatch(msg);
  });
});

/**
 * The Qwen2 fixture (its template lists tools) with a context of 4096 instead of 64, so that the
 * tools conversation (1.3k byte tokens) fits: the u32 after the key qwen2.context_length is patched.
 */
function longContextQwen2(): string {
  const bytes = readFileSync(join(import.meta.dirname, 'fixtures', 'models', 'qwen2-tiny', 'model-f32.gguf'));
  const key = Buffer.from('qwen2.context_length');
  const at = bytes.indexOf(key) + key.length;
  expect([bytes.readUInt32LE(at), bytes.readUInt32LE(at + 4)]).toEqual([4, 64]); // GGUF UINT32, 64
  bytes.writeUInt32LE(4096, at + 4);
  const out = join(mkdtempSync(join(tmpdir(), 'attnode-tools-')), 'qwen2-4k.gguf');
  writeFileSync(out, bytes);
  return out;
}

describe('tools through the HTTP chat API (a served model)', () => {
  let MODEL: string;
  let pool: InferencePool;
  let app: ReturnType<typeof createServer>;
  let base: string;
  let lm: LanguageModel;
  beforeAll(async () => {
    MODEL = longContextQwen2();
    pool = createPool({ model: MODEL, workers: 1, threadsPerWorker: 1 });
    app = createServer({ pool, modelName: 'tiny' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    lm = await LanguageModel.load(MODEL);
  });
  afterAll(async () => {
    await app.close();
    lm?.dispose();
    rmSync(dirname(MODEL), { recursive: true, force: true });
  });

  it('prompts with the tools and the calls rendered by the model’s own template', async () => {
    const r = await post(base, { ...OPENAI_TOOLS, max_tokens: 1 });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const prompt = lm.applyChatTemplate(HF.messages, { tools: HF.tools!, addGenerationPrompt: true });
    expect(prompt).toBe(GOLDENS.renders['qwen2/tools/generation']!.text);
    expect((r.json.usage as { prompt_tokens: number }).prompt_tokens).toBe(lm.tokenizer.encode(prompt).length);
    const without = await post(base, { ...OPENAI_TOOLS, tool_choice: 'none', max_tokens: 1 });
    expect((without.json.usage as { prompt_tokens: number }).prompt_tokens).toBe(lm.tokenizer.encode(lm.applyChatTemplate(HF.messages, { addGenerationPrompt: true })).length);
  });
});
