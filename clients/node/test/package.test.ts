/*
 * The published shape of the package: one instance behind both entry points (ES module and
 * CommonJS), type declarations for each, and a tarball holding the build and nothing else.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

import { repoRoot } from './helpers';

const run = promisify(execFile);
const pkg = join(repoRoot(), 'clients', 'node');

describe('the package', () => {
  test('import and require give the same classes (one AsyncLocalStorage, one instanceof)', async () => {
    const script = `
      import { Reseolio, JobFailedError, namespace } from 'reseolio';
      import whole from 'reseolio';
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('reseolio');
      if (Reseolio !== cjs.Reseolio || JobFailedError !== cjs.JobFailedError || whole.Reseolio !== Reseolio) throw new Error('two instances');
      console.log(namespace('a', 'b'), typeof Reseolio.currentJob);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: pkg });
    assert.equal(stdout.trim(), 'a:b function');
  });

  test('type declarations for both entry points', () => {
    for (const f of ['dist/cjs/index.d.ts', 'dist/esm/index.d.mts', 'dist/esm/index.mjs', 'dist/cjs/index.js']) {
      assert.ok(existsSync(join(pkg, f)), f);
    }
  });

  test('npm pack holds the build, the README and package.json only', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg });
    const [info] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const paths = info!.files.map((f) => f.path);
    assert.ok(paths.includes('package.json') && paths.includes('README.md') && paths.includes('dist/cjs/index.js'));
    const stray = paths.filter((p) => !/^(package\.json|README\.md|dist\/(cjs|esm)\/)/.test(p));
    assert.deepEqual(stray, []);
  });
});
