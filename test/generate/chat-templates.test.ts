// Each family's representative chat template (test/fixtures/chat-templates/*.jinja) rendered with
// @huggingface/jinja equals Python Jinja2's rendering configured as Hugging Face configures it
// (tools/reference/render_chat_templates.py): system and tool messages, tool calls, tools, with
// and without the generation prompt, and the same refusals where a template raises.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplateError, renderChatTemplate, type ChatMessage } from '../../ts/generate/chat.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'chat-templates');
const DATA = JSON.parse(readFileSync(join(DIR, 'conversations.json'), 'utf8')) as {
  tokens: Record<string, { bos_token: string; eos_token: string }>;
  conversations: Record<string, { messages: ChatMessage[]; tools?: Record<string, unknown>[] }>;
};
const GOLDENS = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8')) as {
  header: { script: string };
  renders: Record<string, { text?: string; error?: string }>;
};

describe.each(Object.keys(DATA.tokens))('%s template', (family) => {
  const template = readFileSync(join(DIR, `${family}.jinja`), 'utf8');
  const { bos_token: bosToken, eos_token: eosToken } = DATA.tokens[family]!;
  for (const [name, conv] of Object.entries(DATA.conversations))
    for (const gen of [true, false]) {
      const key = `${family}/${name}/${gen ? 'generation' : 'plain'}`;
      it(`${name}, ${gen ? 'with' : 'without'} the generation prompt, as Jinja2 renders it`, () => {
        expect(GOLDENS.header.script).toBe('tools/reference/render_chat_templates.py');
        const want = GOLDENS.renders[key]!;
        const render = () => renderChatTemplate(template, conv.messages, { addGenerationPrompt: gen, bosToken, eosToken, ...(conv.tools ? { tools: conv.tools } : {}) });
        if (want.error !== undefined) {
          expect(render).toThrow(ChatTemplateError);
          expect(render).toThrow(`chat template: ${want.error}`);
        } else {
          expect(render()).toBe(want.text);
        }
      });
    }
});

describe('messages', () => {
  const t = readFileSync(join(DIR, 'qwen2.jinja'), 'utf8');
  it('name what is malformed', () => {
    expect(() => renderChatTemplate(t, [{ role: 'user' } as never])).toThrow(/'messages\[0\]' must have a string 'content'/);
    expect(() => renderChatTemplate(t, [{ role: 'assistant', content: null }])).toThrow(/or null with 'tool_calls'/);
    expect(() => renderChatTemplate(t, [{ role: 'assistant', content: '', tool_calls: [{} as never] }])).toThrow(/'messages\[0\].tool_calls'/);
    expect(() => renderChatTemplate(t, [{ role: 'user', content: 'x' }], { tools: {} as never })).toThrow(/'tools' must be a list/);
  });
});
