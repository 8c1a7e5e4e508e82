// The addon loads and runs on every x86-64 CPU, not only on the one that built it: loading runs
// no instruction of an instruction set the CPU may lack (every kernel table is constant, so no
// static initializer is compiled with -mavx2 or -mavx512*), and under qemu-x86_64 emulating a
// CPU without AVX (Nehalem) and one with AVX2 but no AVX-512 (Haswell) the addon picks the
// kernels that CPU has and a matmul and a sampling draw give the host's results.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const addonPath = join(root, 'build', 'Release', 'attnode.node');
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const x64 = process.arch === 'x64';

// One script, run natively and under qemu: the ISA chosen and a checksum of two ops' outputs.
const probe = `
const a = require(${JSON.stringify(addonPath)});
const x = new Float32Array(37 * 29), w = new Float32Array(29 * 23);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
for (let i = 0; i < w.length; i++) w[i] = Math.cos(i * 0.11);
const out = new Float32Array(37 * 23);
a.op('matmul', { a: { dtype: 'f32', shape: [37, 29], data: x }, b: { dtype: 'f32', shape: [29, 23], data: w }, out: { dtype: 'f32', shape: [37, 23], data: out } });
let sum = 0;
for (const v of out) sum += v;
console.log(JSON.stringify({ isa: a.cpuInfo().isa, sum: Math.round(sum * 1e3) / 1e3 }));
`;

describe('the addon on CPUs with fewer instruction sets than the build machine', () => {
  const objdump = x64 && has('objdump') && existsSync(addonPath);
  it.skipIf(!objdump)('has no static initializer that uses AVX, AVX2 or AVX-512 instructions', () => {
    const text = execFileSync('objdump', ['-d', '--no-show-raw-insn', addonPath], { maxBuffer: 1 << 30 }).toString();
    const bad: string[] = [];
    let fn: string | null = null;
    for (const line of text.split('\n')) {
      const head = /^[0-9a-f]+ <(.+)>:$/.exec(line);
      if (head) {
        fn = head[1]!.startsWith('_GLOBAL__sub_I') ? head[1]! : null;
        continue;
      }
      // VEX and EVEX encodings all disassemble as v-prefixed mnemonics (vmovdqu, vinserti128 ...).
      if (fn && /\tv[a-z0-9]+\s/.test(line)) bad.push(`${fn}: ${line.trim()}`);
    }
    expect(bad.slice(0, 10)).toEqual([]);
  });

  const qemu = x64 && has('qemu-x86_64') && existsSync(addonPath);
  if (!qemu) console.log('skipping the qemu-x86_64 runs: ' + (!x64 ? 'not an x86-64 host' : !existsSync(addonPath) ? 'the addon is not built' : 'qemu-x86_64 not found (Debian: qemu-user)'));
  it.skipIf(!qemu)('loads and computes the same under qemu as a CPU without AVX and as one without AVX-512', () => {
    const run = (args: string[]): { isa: string; sum: number } => {
      const r = spawnSync(args[0]!, [...args.slice(1), '-e', probe], { encoding: 'utf8', timeout: 110_000 });
      if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status} signal ${r.signal}\n${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { isa: string; sum: number };
    };
    const host = run([process.execPath]);
    const nehalem = run(['qemu-x86_64', '-cpu', 'Nehalem', process.execPath]);
    const haswell = run(['qemu-x86_64', '-cpu', 'Haswell', process.execPath]);
    expect(Math.abs(host.sum)).toBeGreaterThan(1);
    expect(nehalem.isa).toBe('scalar');
    expect(haswell.isa).toBe('avx2');
    // Different kernels sum in different orders: equal to 1e-3 of the rounded checksum's scale.
    expect(Math.abs(nehalem.sum - host.sum)).toBeLessThan(1e-2);
    expect(Math.abs(haswell.sum - host.sum)).toBeLessThan(1e-2);
  }, 240_000);
});
