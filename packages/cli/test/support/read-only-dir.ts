/**
 * Runs the `federa` command as if FEDERA_READ_ONLY (a directory) sat on a read-only file system: every call that would
 * create, change or remove something under it fails with EROFS, as a read-only mount's would. Permissions cannot make
 * a directory unwritable for root.
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { resolve, sep } from "node:path";

const root = resolve(process.env.FEDERA_READ_ONLY ?? "/nonexistent");
const inside = (path: fs.PathLike | fs.promises.FileHandle): boolean => {
  if (typeof path !== "string" && !(path instanceof URL) && !Buffer.isBuffer(path)) return false;
  const full = resolve(String(path instanceof URL ? path.pathname : path));
  return full === root || full.startsWith(root + sep);
};
const writes = (flags: unknown): boolean =>
  typeof flags === "number"
    ? (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT)) !== 0
    : typeof flags === "string" && /[wax+]/.test(flags);

function refused(syscall: string, path: unknown): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`EROFS: read-only file system, ${syscall} '${String(path)}'`);
  Object.assign(error, { errno: -30, code: "EROFS", syscall, path: String(path) });
  return error;
}

type Fn = (...args: never[]) => unknown;
/** Replaces `target[name]` by a version refusing the calls `refuses` picks: rejecting (promises) or throwing (sync). */
function guard(target: Record<string, unknown>, name: string, refuses: (...args: unknown[]) => boolean, sync: boolean) {
  const real = target[name] as Fn;
  target[name] = (...args: unknown[]) => {
    if (!refuses(...args)) return (real as (...a: unknown[]) => unknown)(...args);
    const error = refused(name.replace(/Sync$/, ""), args[0]);
    if (sync) throw error;
    return Promise.reject(error);
  };
}

const promises = fs.promises as unknown as Record<string, unknown>;
const sync = fs as unknown as Record<string, unknown>;
const always = (path: unknown) => inside(path as fs.PathLike);
// A rename or copy that lands in the directory, or takes a file out of it.
const either = (from: unknown, to: unknown) => always(from) || always(to);
// Creating a file that exists exclusively fails with EEXIST first, as the kernel checks the name before the mount.
const exclusive = (flags: unknown): boolean =>
  typeof flags === "number" ? (flags & fs.constants.O_EXCL) !== 0 : typeof flags === "string" && flags.includes("x");
const opensForWrite = (path: unknown, flags: unknown) =>
  always(path) && writes(flags ?? "r") && !(exclusive(flags) && fs.existsSync(path as fs.PathLike));
guard(promises, "open", opensForWrite, false);
guard(sync, "openSync", opensForWrite, true);
// As on a read-only mount, making a directory that exists fails as it would anywhere (or succeeds, when recursive).
const creates = (path: unknown) => always(path) && !fs.existsSync(path as fs.PathLike);
guard(promises, "mkdir", creates, false);
guard(sync, "mkdirSync", creates, true);
for (const name of ["writeFile", "appendFile", "rm", "unlink", "rmdir", "truncate", "chmod", "utimes"]) {
  guard(promises, name, always, false);
  guard(sync, `${name}Sync`, always, true);
}
for (const name of ["rename", "copyFile"]) {
  guard(promises, name, either, false);
  guard(sync, `${name}Sync`, either, true);
}
// The command's modules import these by name: they must see the ones above.
syncBuiltinESMExports();
await import("../../src/main.js");
