// node-llama-cpp (llama.cpp's Node binding) as a benchmark peer, installed on demand into a cache
// folder outside the package, with only its CPU binary package. Never a dependency of attnode.
// This file installs and finds it; bench/e2e/peer-child.ts is what runs it.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peerCacheDir } from './peers.js';

/** Pinned: newer releases change the API and the bundled llama.cpp. */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';

/**
 * node-llama-cpp lists every platform's binaries as optionalDependencies (CUDA and Vulkan builds
 * are hundreds of MB); the bench omits them all and installs the one CPU package for this platform.
 */
const CPU_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64': '@node-llama-cpp/linux-x64',
  'linux-arm64': '@node-llama-cpp/linux-arm64',
  'linux-arm': '@node-llama-cpp/linux-armv7l',
  'darwin-arm64': '@node-llama-cpp/mac-arm64-metal',
  'darwin-x64': '@node-llama-cpp/mac-x64',
  'win32-x64': '@node-llama-cpp/win-x64',
  'win32-arm64': '@node-llama-cpp/win-arm64',
};

/** The CPU binary package for a platform and architecture, or undefined where node-llama-cpp ships none. */
export function cpuBinaryPackage(platform: string = process.platform, arch: string = process.arch): string | undefined {
  return CPU_PACKAGES[`${platform}-${arch}`];
}

/** Where peers are installed: the runner's peer cache (bench/lib/peers.ts: $ATTNODE_BENCH_CACHE, else $XDG_CACHE_HOME/attnode-bench, else ~/.cache/attnode-bench). */
export function peersDir(): string {
  return peerCacheDir();
}

export type PeerStatus =
  | { readonly name: 'node-llama-cpp'; readonly version: string; readonly present: true; readonly dir: string; readonly binaryPackage: string; readonly installed: boolean }
  | { readonly name: 'node-llama-cpp'; readonly version: string; readonly present: false; readonly reason: string };

export interface EnsureOptions {
  /** The peers folder (default peersDir()). */
  dir?: string;
  /** Install when missing (default: unless ATTNODE_BENCH_NO_INSTALL=1); false reports a missing peer as absent. */
  install?: boolean;
  /** The npm executable (default 'npm' on PATH). */
  npm?: string;
  platform?: string;
  arch?: string;
  /** Longest an install may take (default 10 minutes). */
  timeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

function installedVersion(root: string, pkg: string): string | undefined {
  const p = join(root, 'node_modules', ...pkg.split('/'), 'package.json');
  if (!existsSync(p)) return undefined;
  const v = (JSON.parse(readFileSync(p, 'utf8')) as { version?: unknown }).version;
  return typeof v === 'string' ? v : undefined;
}

/** npm's failure as a reason a reader can act on: no network, wrong platform, or npm's own words. */
export function installFailureReason(stderr: string, status: number | null, error?: Error): string {
  if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return `npm was not found (${error.message})`;
  if (error && (error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return 'npm install timed out';
  const code = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b/.exec(stderr)?.[1];
  if (code) return `no network: npm could not reach the registry (${code})`;
  if (/EBADPLATFORM|Unsupported platform/i.test(stderr)) return `wrong platform: ${stderr.split('\n').find((l) => /platform/i.test(l))?.trim() ?? 'npm refused the binary package'}`;
  const last = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^npm (warn|notice)/i.test(l)).slice(-2).join(' ');
  return `npm install failed (exit ${status ?? 'none'})${last ? `: ${last}` : ''}`;
}

/**
 * Finds node-llama-cpp NODE_LLAMA_CPP_VERSION in the peers folder, installing it there first
 * when it is missing (into a staging folder renamed into place, so a failed or concurrent install
 * leaves nothing half-made). Never throws for a peer that cannot be had: it is reported absent.
 */
export function ensureNodeLlamaCpp(options: EnsureOptions = {}): PeerStatus {
  const version = NODE_LLAMA_CPP_VERSION;
  const absent = (reason: string): PeerStatus => ({ name: 'node-llama-cpp', version, present: false, reason });
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const binaryPackage = cpuBinaryPackage(platform, arch);
  if (!binaryPackage) return absent(`wrong platform: node-llama-cpp ${version} ships no CPU binary package for ${platform}-${arch}`);
  const root = join(options.dir ?? peersDir(), `node-llama-cpp-${version}-${platform}-${arch}`);
  const ready = (dir: string) => installedVersion(dir, 'node-llama-cpp') === version && installedVersion(dir, binaryPackage) === version;
  if (ready(root)) return { name: 'node-llama-cpp', version, present: true, dir: root, binaryPackage, installed: false };
  if (options.install === false || (options.install === undefined && process.env.ATTNODE_BENCH_NO_INSTALL === '1'))
    return absent(`not installed in ${root}, and installing was turned off (ATTNODE_BENCH_NO_INSTALL=1)`);
  const staging = `${root}.staging-${process.pid}`;
  try {
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
  } catch (e) {
    return absent(`cannot create ${staging}: ${(e as Error).message}`);
  }
  writeFileSync(join(staging, 'package.json'), JSON.stringify({ name: 'attnode-bench-peer', private: true, description: 'installed on demand by attnode bench' }) + '\n');
  // --omit=optional drops every platform's binaries; naming the CPU package installs it anyway.
  // --ignore-scripts: node-llama-cpp's postinstall would download or build llama.cpp when no
  // prebuilt binary fits; here a peer without a working prebuilt binary is reported absent.
  const args = ['install', '--save-exact', '--omit=optional', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund',
    `node-llama-cpp@${version}`, `${binaryPackage}@${version}`];
  options.log?.(`installing node-llama-cpp ${version} (${binaryPackage} only) into ${root}`);
  const r = spawnSync(options.npm ?? 'npm', args, { cwd: staging, encoding: 'utf8', timeout: options.timeoutMs ?? 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0 || !ready(staging)) {
    rmSync(staging, { recursive: true, force: true });
    const why = r.error || r.status !== 0 ? installFailureReason(r.stderr ?? '', r.status, r.error) : `npm finished but ${binaryPackage}@${version} is not in place`;
    return absent(why);
  }
  try {
    if (ready(root)) rmSync(staging, { recursive: true, force: true });
    else {
      rmSync(root, { recursive: true, force: true });
      renameSync(staging, root);
    }
  } catch (e) {
    return absent(`cannot move the install into ${root}: ${(e as Error).message}`);
  }
  return { name: 'node-llama-cpp', version, present: true, dir: root, binaryPackage, installed: true };
}
