// The end-to-end suite's check before timing: attnode and node-llama-cpp, given the same file and
// the same prompt ids, must predict the same next-token distribution. Not a test of either engine
// (test/llamacpp*.test.ts are); a guard that both run the model they are timed on.

/** Log-probabilities differ by a constant (the log partition) at most; this is the residual allowed. */
export const NEXT_TOKEN_TOL: Readonly<Record<string, number>> = {
  // f32 and f16 weights: f32 arithmetic on both sides, measured within 1e-3 on this file.
  f32: 5e-3,
  f16: 5e-3,
  // Both engines quantize activations to 8-bit blocks for these weights, rounding at different
  // points; measured within 0.04 on this file (the top 32 log-probabilities span about 0.4).
  q8_0: 0.1,
  q4_k_m: 0.1,
};

/** Tokens compared: attnode's most likely ones. */
const TOP = 32;

export interface NextTokenAgreement {
  ok: boolean;
  /** The most likely next token of each side. */
  top1: { attnode: number; peer: number };
  /** Largest |Δ log p - mean Δ| over attnode's top tokens. */
  maxDiff: number;
  tol: number;
  why?: string;
}

/**
 * `a`, `b`: [token, log p] pairs, most likely first (every token of the vocabulary, or at least
 * attnode's top ones in `b`). Agreement: close log-probabilities on attnode's top tokens, and the
 * peer's top token within `tol` of attnode's top in attnode's own distribution (a near tie may go
 * either way).
 */
export function compareNextToken(a: readonly (readonly [number, number])[], b: readonly (readonly [number, number])[], dtype: string): NextTokenAgreement {
  const tol = NEXT_TOKEN_TOL[dtype];
  if (tol === undefined) throw new RangeError(`compareNextToken: no tolerance for dtype '${dtype}'`);
  if (a.length === 0 || b.length === 0) throw new RangeError('compareNextToken: both sides need log-probabilities');
  const pa = new Map(a.map(([id, lp]) => [id, lp]));
  const pb = new Map(b.map(([id, lp]) => [id, lp]));
  const top1 = { attnode: a[0]![0], peer: b[0]![0] };
  const diffs: number[] = [];
  for (const [id, lp] of a.slice(0, TOP)) {
    const other = pb.get(id);
    if (other === undefined) return { ok: false, top1, maxDiff: Infinity, tol, why: `token ${id} (attnode's top ${TOP}) has no probability on the peer's side` };
    diffs.push(lp - other);
  }
  const mean = diffs.reduce((s, d) => s + d, 0) / diffs.length;
  const maxDiff = Math.max(...diffs.map((d) => Math.abs(d - mean)));
  if (!(maxDiff <= tol)) return { ok: false, top1, maxDiff, tol, why: `log-probabilities differ by ${maxDiff.toExponential(2)} (> ${tol})` };
  const gap = a[0]![1] - (pa.get(top1.peer) ?? -Infinity);
  if (!(gap <= tol)) return { ok: false, top1, maxDiff, tol, why: `greedy next tokens differ: attnode ${top1.attnode}, peer ${top1.peer}, ${gap.toFixed(3)} below attnode's top` };
  return { ok: true, top1, maxDiff, tol };
}
