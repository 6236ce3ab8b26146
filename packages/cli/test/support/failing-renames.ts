/**
 * Runs the `federa` command with every rename onto a path containing one of FEDERA_FAIL_RENAMES (comma-separated)
 * failing with EIO, as a failing disk would: the command's files are all written by renaming a temporary file over
 * them, and permissions cannot make one write fail for root.
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";

const failing = (process.env.FEDERA_FAIL_RENAMES ?? "").split(",").filter((f) => f !== "");
const rename = fs.promises.rename;
fs.promises.rename = async (from: fs.PathLike, to: fs.PathLike) => {
  if (!failing.some((f) => String(to).includes(f))) return rename(from, to);
  const error: NodeJS.ErrnoException = new Error(`EIO: i/o error, rename '${String(from)}' -> '${String(to)}'`);
  Object.assign(error, { errno: -5, code: "EIO", syscall: "rename", path: String(from), dest: String(to) });
  throw error;
};
// The command's modules import `rename` by name: they must see the one above.
syncBuiltinESMExports();
await import("../../src/main.js");
