#!/usr/bin/env node
// Thin launcher: the CLI lives in harness/cli/main.ts, compiled to dist/ by `npm run build`
// (run automatically by `npm ci` / `npm install`).
let cli;
try {
  cli = await import('../dist/harness/cli/main.js');
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write("xenlab: not built yet; run 'npm ci' (or 'npm run build') in the xenlab directory\n");
    process.exit(1);
  }
  throw e;
}
process.exitCode = await cli.main(process.argv.slice(2));
