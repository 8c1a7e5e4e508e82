// Lists the C++ sources of the given folders for binding.gyp (gyp cannot glob by itself), so
// the node-gyp build always compiles exactly what CMakeLists.txt compiles.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const files = [];
for (const dir of process.argv.slice(2)) {
  for (const name of readdirSync(dir).sort()) if (name.endsWith('.cc')) files.push(join(dir, name));
}
process.stdout.write(files.join('\n'));
