#!/usr/bin/env node
import { runCli } from './program.js';

// `esper config … | head` closes the pipe early: that is the reader's choice, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// The first Ctrl-C (or SIGTERM) stops `esper run` at the trainer's next step boundary, so the run
// directory and summary are complete, and makes `esper serve` drain and stop its plugins; a
// second one exits at once.
const controller = new AbortController();
const interrupt = (signal: NodeJS.Signals): void => {
  if (controller.signal.aborted) process.exit(130);
  const what = process.argv[2] === 'serve' ? 'draining and stopping' : 'stopping at the next step boundary';
  process.stderr.write(`\n${signal}: ${what} (again to quit now)…\n`);
  controller.abort(new Error(`interrupted by ${signal}`));
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  progressStream: process.stderr,
  signal: controller.signal,
});
process.off('SIGINT', interrupt);
process.off('SIGTERM', interrupt);
process.exitCode = code;
// The run is stopped and every plugin disposed by now; a handle some library leaves open (a
// worker, a socket) must not keep the command from returning to the shell.
setTimeout(() => process.exit(code), 2_000).unref();
