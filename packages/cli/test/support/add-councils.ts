/** Test helper process: adds councils PREFIX-0 … PREFIX-(N-1) to a node directory at once (`DIR PREFIX N`). */
import { NodeDir } from "../../src/node-dir.js";

const [dir, prefix, count] = process.argv.slice(2);
const nodeDir = new NodeDir(dir!);
await Promise.all(
  Array.from({ length: Number(count) }, (_, i) => nodeDir.addCouncil(`${prefix}-${i}`, `automerge:${prefix}${i}`)),
);
