// Chat prompts from a checkpoint's Jinja chat template (tokenizer_config.json `chat_template` or
// GGUF `tokenizer.chat_template`), rendered with @huggingface/jinja with what Hugging Face's
// apply_chat_template passes: messages (system, user, assistant with tool calls, tool results),
// tools, add_generation_prompt, the special tokens and raise_exception. Not a template engine of
// its own and not a fallback format for plain models.

import { Template } from '@huggingface/jinja';

/** A tool call of an assistant message, as OpenAI's and Hugging Face's chat formats write it. */
export interface ChatToolCall {
  type?: 'function';
  id?: string;
  function: { name: string; arguments: Record<string, unknown> | string };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  /** The text; may be empty (or null) for an assistant message that only calls tools. */
  content: string | null;
  tool_calls?: readonly ChatToolCall[];
  /** Tool messages: the tool that answered, and the call it answers. */
  name?: string;
  tool_call_id?: string;
}

export interface ChatTemplateOptions {
  /** Ends the text with the template's assistant header so the model answers. Default true. */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** Function definitions the template lists (JSON schema objects, as Hugging Face passes `tools`). */
  tools?: readonly Record<string, unknown>[];
  /** Extra variables the template reads. */
  variables?: Record<string, unknown>;
}

/** A template's raise_exception(message) (roles out of order, say) or a template that does not parse. */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}

/** Throws a TypeError naming the first message that is not a chat message (what renderChatTemplate takes). */
export function checkChatMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new TypeError("applyChatTemplate: 'messages' must be an array of { role, content }");
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string') throw new TypeError(`applyChatTemplate: 'messages[${i}]' must have a string 'role'`);
    const calls = m.tool_calls;
    if (calls !== undefined && (!Array.isArray(calls) || calls.some((c) => typeof c?.function?.name !== 'string')))
      throw new TypeError(`applyChatTemplate: 'messages[${i}].tool_calls' must be a list of { function: { name, arguments } }`);
    const textless = m.content === null || m.content === undefined;
    if (!(typeof m.content === 'string' || (textless && calls !== undefined && calls.length > 0)))
      throw new TypeError(`applyChatTemplate: 'messages[${i}]' must have a string 'content' (or null with 'tool_calls')`);
  });
}

/** Throws a TypeError unless `tools` is undefined or a list of objects. */
export function checkChatTools(tools: unknown): void {
  if (tools !== undefined && (!Array.isArray(tools) || tools.some((t) => typeof t !== 'object' || t === null || Array.isArray(t))))
    throw new TypeError("applyChatTemplate: 'tools' must be a list of objects");
}

/** Renders messages with a Jinja chat template. */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  if (typeof template !== 'string' || template.length === 0) throw new TypeError("applyChatTemplate: the model has no chat template ('tokenizer.chat_template')");
  checkChatMessages(messages);
  checkChatTools(options.tools);
  const context = {
    ...options.variables,
    messages,
    tools: options.tools ?? null,
    add_generation_prompt: options.addGenerationPrompt ?? true,
    bos_token: options.bosToken ?? '',
    eos_token: options.eosToken ?? '',
  };
  // @huggingface/jinja defines raise_exception itself; what it (or a malformed template) throws
  // becomes a ChatTemplateError naming the template.
  try {
    return new Template(template).render(context);
  } catch (e) {
    throw new ChatTemplateError(`chat template: ${e instanceof Error ? e.message : String(e)}`);
  }
}
