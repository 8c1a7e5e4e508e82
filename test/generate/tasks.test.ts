// translate / summarize: which task_specific_params entry a request uses, its prefix and settings.
import { describe, expect, it } from 'vitest';
import { resolveTask } from '../../ts/generate/tasks.js';

const T5 = {
  summarization: { prefix: 'summarize: ', num_beams: 4, max_length: 200, min_length: 30, length_penalty: 2.0, early_stopping: true, no_repeat_ngram_size: 3 },
  translation_en_to_de: { prefix: 'translate English to German: ', num_beams: 4, max_length: 300, early_stopping: true },
  translation_en_to_fr: { prefix: 'translate English to French: ' },
};

describe('resolveTask', () => {
  it("maps T5's summarization entry: prefix, beams, HF lengths counted without the start token", () => {
    expect(resolveTask(T5, 'summarize')).toEqual({
      key: 'summarization',
      prefix: 'summarize: ',
      options: { numBeams: 4, maxTokens: 199, minNewTokens: 29, lengthPenalty: 2, earlyStopping: true, noRepeatNgramSize: 3 },
    });
  });
  it('picks the translation pair by --from / --to and refuses unknown or ambiguous ones, listing what exists', () => {
    expect(resolveTask(T5, 'translate', { from: 'en', to: 'fr' })).toEqual({ key: 'translation_en_to_fr', prefix: 'translate English to French: ', options: {} });
    expect(() => resolveTask(T5, 'translate')).toThrow(/several translation tasks \(translation_en_to_de, translation_en_to_fr\)/);
    expect(() => resolveTask(T5, 'translate', { from: 'en', to: 'ro' })).toThrow(/no task translation_en_to_ro; it has translation_en_to_de, translation_en_to_fr/);
    expect(() => resolveTask(T5, 'translate', { from: 'en' })).toThrow(/both --from and --to/);
    expect(resolveTask({ translation_en_to_de: T5.translation_en_to_de }, 'translate').key).toBe('translation_en_to_de');
  });
  it('gives no prefix and no settings to a checkpoint without entries (Marian, BART), and refuses languages there', () => {
    expect(resolveTask({}, 'translate')).toEqual({ key: null, prefix: '', options: {} });
    expect(resolveTask({}, 'summarize')).toEqual({ key: null, prefix: '', options: {} });
    expect(() => resolveTask({}, 'translate', { from: 'en', to: 'de' })).toThrow(/names no translation tasks/);
    expect(() => resolveTask(T5, 'summarize', { from: 'en', to: 'de' })).toThrow(/summarize takes no --from/);
    expect(() => resolveTask({ summarization: { prefix: 3 } } as never, 'summarize')).toThrow(/prefix must be a string/);
  });
});
