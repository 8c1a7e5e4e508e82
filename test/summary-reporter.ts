// A vitest reporter that ends the run with one plain line, `N passed, N failed, N skipped`,
// which CI reads and people can read without vitest's colors. A file that fails to load, a
// suite or file whose hook throws, and an error outside any test each count as one failure, so
// the line never reads "0 failed" for a run that vitest itself failed.
import type { Reporter, TestModule, TestRunEndReason, TestSuite } from 'vitest/node';
import type { SerializedError } from 'vitest';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of testModules) {
      let failedTests = 0;
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedTests++;
        else skipped++;
      }
      // Errors that belong to no test: collection (a file that fails to import), beforeAll and
      // afterAll hooks of the file or of a suite. One failure per file or suite that has them.
      const owners: Array<TestModule | TestSuite> = [m, ...m.children.allSuites()];
      const hookFailures = owners.filter((o) => o.errors().length > 0).length;
      failed += failedTests + hookFailures;
      if (failedTests + hookFailures === 0 && m.state() === 'failed') failed++;
    }
    failed += unhandledErrors.length;
    // Whatever vitest failed the run for (a timeout of the whole run, an error in setup) shows.
    if (failed === 0 && reason === 'failed') failed = 1;
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
