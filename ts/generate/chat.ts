// Chat prompts from a checkpoint's Jinja chat template (tokenizer.chat_template), rendered with
// @huggingface/jinja. Not a template engine of its own and not a fallback format for plain models.

import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ChatTemplateOptions {
  /** Ends the text with the template's assistant header so the model answers. Default true. */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** Extra variables the template reads. */
  variables?: Record<string, unknown>;
}

/** Renders messages with a Jinja chat template. */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  if (typeof template !== 'string' || template.length === 0) throw new TypeError("applyChatTemplate: the model has no chat template ('tokenizer.chat_template')");
  if (!Array.isArray(messages)) throw new TypeError("applyChatTemplate: 'messages' must be an array of { role, content }");
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string' || typeof m.content !== 'string')
      throw new TypeError(`applyChatTemplate: 'messages[${i}]' must have string 'role' and 'content'`);
  });
  return new Template(template).render({
    ...options.variables,
    messages,
    add_generation_prompt: options.addGenerationPrompt ?? true,
    bos_token: options.bosToken ?? '',
    eos_token: options.eosToken ?? '',
  });
}
