#!/usr/bin/env node
/** The `federa` command's entry point: runs the program and exits with its code. */
import { catchStopSignals } from "./signals.js";

// `federa node` stops cleanly on SIGINT or SIGTERM from its first moment, even while it is still loading; other
// commands die on them as usual.
if (process.argv[2] === "node") catchStopSignals();
const { report, run } = await import("./program.js");
// A failure nobody awaited (a library's background save into a damaged directory) ends the command like any other
// error: one line and its exit code, not a stack.
process.on("unhandledRejection", (error) => process.exit(report(error)));

// automerge-repo schedules some timers with negative delays; Node's warning about it is noise to a user.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

const code = await run(process.argv.slice(2));
// Everything written to a pipe must reach it before the process ends (exit does not wait for a pipe to drain); then
// open handles (storage timers, sockets) must not keep a finished command alive.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write("", resolve))));
process.exit(code);
