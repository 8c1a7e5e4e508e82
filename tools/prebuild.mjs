// `npm run prebuild`: builds the Node-API prebuilt binary with prebuildify + node-gyp from
// binding.gyp, in a scratch copy of the sources so that node-gyp's build/ never clobbers the
// cmake-js build of this checkout. Output: prebuilds/<platform>-<arch>/attnode.node.
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(join(tmpdir(), 'attnode-prebuild-'));
try {
  for (const p of ['package.json', 'binding.gyp', 'native', 'tools/gyp-sources.mjs']) cpSync(join(root, p), join(scratch, p), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  const prebuildify = join(root, 'node_modules', 'prebuildify', 'bin.js');
  const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', ...process.argv.slice(2)], { cwd: scratch, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  cpSync(join(scratch, 'prebuilds'), join(root, 'prebuilds'), { recursive: true });
  console.log(`prebuilt binaries copied to ${join(root, 'prebuilds')}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
