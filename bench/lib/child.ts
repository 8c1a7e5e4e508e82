// Runs one suite in a process of its own for the runner (bench/run.ts): imports the suite file,
// runs it with the options the runner passed, writes what it measured as JSON. Not for people:
// `node --import tsx bench/lib/child.ts SUITE_FILE OPTIONS_JSON RESULT_FILE`.

import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createContext, type Suite, type SuiteOptions, type SuiteOutput } from './suite.js';

export interface ChildResult extends SuiteOutput {
  name: string;
  title: string;
  description: string;
  error?: string;
}

const [file, optionsJson, resultFile] = process.argv.slice(2);
if (!file || !optionsJson || !resultFile) throw new TypeError('child.ts: expected SUITE_FILE OPTIONS_JSON RESULT_FILE');
const options = JSON.parse(optionsJson) as SuiteOptions;
const mod = (await import(pathToFileURL(file).href)) as { default?: Suite };
const suite = mod.default;
if (!suite || typeof suite.run !== 'function') throw new TypeError(`${file}: the default export is not a suite (defineSuite({...}))`);
const { ctx, output } = createContext(suite.name, options, (line) => process.stderr.write(`${line}\n`));
const result: ChildResult = { name: suite.name, title: suite.title, description: suite.description, ...output };
try {
  await suite.run(ctx);
} catch (e) {
  // What was measured before the failure still goes into the report, with the error beside it.
  result.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  process.exitCode = 1;
}
writeFileSync(resultFile, JSON.stringify(result));
