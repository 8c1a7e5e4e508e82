// The end-to-end bench's check before timing: two engines' next-token log-probabilities agree up
// to a constant, within the dtype's tolerance, and a near tie may pick either top token.
import { describe, expect, it } from 'vitest';
import { NEXT_TOKEN_TOL, compareNextToken } from '../bench/e2e/check.js';

/** [id, log p] pairs, most likely first, from logits. */
function logprobs(logits: number[]): [number, number][] {
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
  return logits.map((v, id): [number, number] => [id, v - lse]).sort((a, b) => b[1] - a[1]);
}
// Distinct logits 0.02 apart, in a scrambled order.
const logits = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) / 50);

describe('compareNextToken', () => {
  it('accepts the same distribution, shifted by a constant, and rounding below the tolerance', () => {
    const a = logprobs(logits);
    const shifted = logprobs(logits.map((v, i) => v + 3 + (i % 2 ? 1e-4 : -1e-4)));
    const r = compareNextToken(a, shifted, 'f32');
    expect(r.ok).toBe(true);
    expect(r.top1.attnode).toBe(r.top1.peer);
    expect(r.maxDiff).toBeLessThan(NEXT_TOKEN_TOL.f32!);
  });

  it('refuses distributions that differ beyond the tolerance, naming how much', () => {
    const a = logprobs(logits);
    const b = logprobs(logits.map((v, i) => v + (i % 3 === 0 ? 0.05 : 0)));
    const f32 = compareNextToken(a, b, 'f32');
    expect(f32.ok).toBe(false);
    expect(f32.why).toMatch(/log-probabilities differ by .* \(> 0\.005\)/);
    // q8_0's tolerance covers activation-rounding differences of this size.
    expect(compareNextToken(a, b, 'q8_0').ok).toBe(true);
  });

  it('takes a near tie either way, and refuses a different top token that is not one', () => {
    const tie = [...logits];
    const top = logprobs(logits)[0]![0];
    const second = logprobs(logits)[1]![0];
    tie[second] = tie[top]! - 1e-3; // within q8_0's 0.1 of the top
    const a = logprobs(tie);
    const swapped = [...tie];
    [swapped[top], swapped[second]] = [swapped[second]!, swapped[top]!];
    const r = compareNextToken(a, logprobs(swapped), 'q8_0');
    expect(r.ok).toBe(true);
    expect(r.top1).toEqual({ attnode: top, peer: second });
    // A peer whose top token is far down attnode's list: refused even under a loose tolerance.
    const far = [...logits];
    const low = logprobs(logits)[50]![0];
    far[low] = 10;
    const bad = compareNextToken(logprobs(logits), logprobs(far), 'q4_k_m');
    expect(bad.ok).toBe(false);
    expect(bad.why).toMatch(/greedy next tokens differ/);
  });

  it('refuses unknown dtypes and empty inputs', () => {
    expect(() => compareNextToken(logprobs(logits), logprobs(logits), 'q3_k')).toThrow(RangeError);
    expect(() => compareNextToken([], logprobs(logits), 'f32')).toThrow(/both sides need log-probabilities/);
  });
});
