// Benchmark peers installed on demand: a pinned npm package in a cache folder of its own, outside
// the package and never one of its dependencies. Returns where it is, or throws with the reason
// (which the suite reports as the peer being absent).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface PeerInstall {
  /** The folder whose node_modules holds the package (createRequire(join(dir, 'package.json'))). */
  dir: string;
  version: string;
}

/** ATTNODE_BENCH_CACHE, else $XDG_CACHE_HOME/attnode-bench, else ~/.cache/attnode-bench. */
export function peerCacheDir(): string {
  return process.env.ATTNODE_BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'attnode-bench');
}

function installedVersion(dir: string, pkg: string): string | undefined {
  const f = join(dir, 'node_modules', pkg, 'package.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { version: string }).version : undefined;
}

/**
 * `pkg@version` from the first of `candidates` that holds exactly that version, else installed
 * into <cache>/<pkg>-<version> with `npm i -E --no-save` (and `extraArgs`, e.g. --ignore-scripts).
 * ATTNODE_BENCH_NO_INSTALL=1 turns installing off. Throws an Error whose message is the reason.
 */
export function ensurePeer(pkg: string, version: string, options: { candidates?: string[]; extraArgs?: string[]; log?: (line: string) => void } = {}): PeerInstall {
  for (const dir of options.candidates ?? []) {
    const v = installedVersion(dir, pkg);
    if (v === version) return { dir, version: v };
  }
  const dir = join(peerCacheDir(), `${pkg.replace(/[@/]/g, '_')}-${version}`);
  if (installedVersion(dir, pkg) === version) return { dir, version };
  if (process.env.ATTNODE_BENCH_NO_INSTALL === '1') throw new Error(`${pkg}@${version} is not installed in ${dir} and ATTNODE_BENCH_NO_INSTALL=1`);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'attnode-bench-peer', private: true }) + '\n');
  options.log?.(`installing ${pkg}@${version} into ${dir}`);
  try {
    execFileSync('npm', ['i', '-E', '--no-save', '--no-audit', '--no-fund', ...(options.extraArgs ?? []), `${pkg}@${version}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    const why = err.stderr?.toString().trim().split('\n').slice(-3).join(' ') || err.message;
    throw new Error(`npm could not install ${pkg}@${version} into ${dir}: ${why}`);
  }
  const v = installedVersion(dir, pkg);
  if (v !== version) throw new Error(`after npm i, ${dir} holds ${pkg} ${v ?? 'nothing'}, not ${version}`);
  return { dir, version: v };
}
