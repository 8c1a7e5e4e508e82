// The package's install step. A prebuilt binary for this platform (prebuilds/, made by
// `npm run prebuild`) is used as is; otherwise the addon is compiled with cmake-js. In a
// source checkout (a .git folder is present) it always compiles, so edits to native/ count.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const hasPrebuild = existsSync(prebuildDir) && readdirSync(prebuildDir).some((f) => f.endsWith('.node'));
const isCheckout = existsSync(join(root, '.git'));

if (hasPrebuild && !isCheckout && !process.env.ATTNODE_BUILD_FROM_SOURCE) {
  console.log(`attnode: using the prebuilt binary in ${prebuildDir}`);
  process.exit(0);
}

const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const cli = existsSync(cmakeJs) ? [cmakeJs] : [join(root, '..', 'cmake-js', 'bin', 'cmake-js')];
const result = spawnSync(process.execPath, [...cli, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    'attnode: building the native addon failed. It needs cmake (>= 3.18) and a C++17 compiler ' +
      '(Debian/Ubuntu: apt-get install cmake g++). Set ATTNODE_CUDA=OFF in CMake to skip CUDA.',
  );
  process.exit(result.status ?? 1);
}
