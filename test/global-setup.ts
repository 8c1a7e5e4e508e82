// Compiles the TypeScript sources into dist/ once per test run: worker threads (the scheduler's
// Piscina workers, the CLI in a child process) load the compiled JavaScript, as users do.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: 'inherit',
  });
}
