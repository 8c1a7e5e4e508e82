// Chat templates rendered with @huggingface/jinja, as checkpoints ship them.
import { describe, expect, it } from 'vitest';
import { renderChatTemplate } from '../../ts/generate/chat.js';

// The ChatML template as it appears in tokenizer_config.json of ChatML checkpoints.
const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const WITH_BOS = "{{ bos_token }}{% for m in messages %}[{{ m.role | upper }}] {{ m.content }}{{ eos_token }}{% endfor %}";

describe('chat templates', () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi!' },
  ];

  it('renders ChatML with and without the generation prompt', () => {
    expect(renderChatTemplate(CHATML, messages)).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n');
    expect(renderChatTemplate(CHATML, messages, { addGenerationPrompt: false })).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n');
  });

  it('passes bos/eos tokens and filters', () => {
    expect(renderChatTemplate(WITH_BOS, messages, { bosToken: '<s>', eosToken: '</s>' })).toBe('<s>[SYSTEM] Be brief.</s>[USER] Hi!</s>');
  });

  it('rejects a missing template and malformed messages by name', () => {
    expect(() => renderChatTemplate('', messages)).toThrow(/no chat template/);
    expect(() => renderChatTemplate(CHATML, [{ role: 'user' } as never])).toThrow(/'messages\[0\]'/);
  });
});
