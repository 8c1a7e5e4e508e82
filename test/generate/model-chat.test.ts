// A checkpoint's own chat template and special tokens: tokenizer.chat_template and the bos/eos
// tokens' text from a GGUF file, chat_template, bos_token and eos_token from tokenizer_config.json,
// rendered as Python's Jinja2 renders them (test/fixtures/chat-templates/goldens.json).

import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LanguageModel } from '../../ts/generate/model.js';
import type { ChatMessage } from '../../ts/generate/chat.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const CHAT = join(FIX, 'chat-templates');
const CONV = JSON.parse(readFileSync(join(CHAT, 'conversations.json'), 'utf8')) as { conversations: Record<string, { messages: ChatMessage[]; tools?: Record<string, unknown>[] }> };
const GOLDENS = JSON.parse(readFileSync(join(CHAT, 'goldens.json'), 'utf8')) as { renders: Record<string, { text?: string }> };
const TMP = mkdtempSync(join(tmpdir(), 'attnode-chat-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe("a model's own chat template", () => {
  it('GGUF: tokenizer.chat_template', async () => {
    const m = await LanguageModel.load(join(FIX, 'models', 'qwen2-tiny', 'model-f32.gguf'), { backend: 'reference' });
    try {
      const c = CONV.conversations.tools!;
      expect(m.applyChatTemplate(c.messages, { tools: c.tools })).toBe(GOLDENS.renders['qwen2/tools/generation']!.text);
      expect(m.chatTokens).toEqual({ bosToken: '<0x01>', eosToken: '<0x02>' });
    } finally {
      m.dispose();
    }
  });

  it('Hugging Face directory: chat_template, bos_token and eos_token ({ content } or text) of tokenizer_config.json', async () => {
    const d = mkdtempSync(join(TMP, 'phi3-'));
    copyFileSync(join(FIX, 'models', 'phi3-tiny', 'config.json'), join(d, 'config.json'));
    symlinkSync(join(FIX, 'models', 'phi3-tiny', 'model.safetensors'), join(d, 'model.safetensors'));
    copyFileSync(join(FIX, 'tokenizers', 'bpe-bytefallback.json'), join(d, 'tokenizer.json'));
    writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({
      chat_template: readFileSync(join(CHAT, 'phi3.jinja'), 'utf8'), bos_token: { content: '<s>', special: true }, eos_token: '<|endoftext|>',
    }));
    const m = await LanguageModel.load(d, { backend: 'reference' });
    try {
      expect(m.chatTokens).toEqual({ bosToken: '<s>', eosToken: '<|endoftext|>' });
      for (const gen of [true, false])
        expect(m.applyChatTemplate(CONV.conversations['multi-turn']!.messages, { addGenerationPrompt: gen })).toBe(GOLDENS.renders[`phi3/multi-turn/${gen ? 'generation' : 'plain'}`]!.text);
    } finally {
      m.dispose();
    }
  });
});
