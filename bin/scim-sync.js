#!/usr/bin/env node
// Tiny launcher: all behaviour, including exit codes, lives in dist/src/cli/main.js.
import { main } from '../dist/src/cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
