#!/usr/bin/env node
// Stable entry for the `esper` command. It exists before the package is built, so package
// managers can link it on a fresh install; the CLI itself lives in dist/.
try {
  await import('../dist/src/cli/bin.js');
} catch (error) {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/cli/bin.js')) {
    console.error('esper: the esper package is not built yet. Run `pnpm build` in the workspace first.');
    process.exit(1);
  }
  throw error;
}
