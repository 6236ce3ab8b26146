/**
 * Reads V8 heap snapshots (`v8.writeHeapSnapshot`) of `./dev bench soak`'s stable node and tells what grew between two:
 * objects counted and sized by constructor, as the Memory panel's "Comparison" view of Chrome's DevTools groups them.
 */
import { readFileSync } from "node:fs";

/** Objects of one constructor (or kind: strings, arrays, compiled code) in one snapshot. */
export interface Group {
  readonly count: number;
  readonly bytes: number;
}

export interface HeapSummary {
  /** Objects in the snapshot, and their own (shallow) bytes. */
  readonly nodes: number;
  readonly bytes: number;
  readonly groups: ReadonlyMap<string, Group>;
}

/** One constructor that grew between two snapshots. */
export interface GroupGrowth {
  readonly name: string;
  readonly countFrom: number;
  readonly countTo: number;
  /** Objects more per cycle between the two snapshots. */
  readonly countPerCycle: number;
  /** Own bytes more in the later snapshot. */
  readonly bytesDelta: number;
}

export interface HeapGrowth {
  readonly from: { readonly cycle: number; readonly nodes: number; readonly bytes: number };
  readonly to: { readonly cycle: number; readonly nodes: number; readonly bytes: number };
  /** What grew most, by own bytes added, then objects added. */
  readonly top: readonly GroupGrowth[];
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** The group a node falls in: objects by constructor, functions by name, everything else by kind. */
function groupOf(type: string, name: string): string {
  if (type === "object" || type === "native") return name;
  if (type === "closure") return `${name || "(anonymous)"}()`;
  if (type === "string" || type === "concatenated string" || type === "sliced string") return "(string)";
  if (type === "array") return `(array) ${name}`;
  if (type === "hidden") return `(system) ${name}`;
  return `(${type})`;
}

/** Counts and sizes the objects of one heap snapshot file by group. */
export function summariseHeapSnapshot(path: string): HeapSummary {
  const snap = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, { count: number; bytes: number }>();
  let bytes = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt]!] ?? "unknown";
    const name = snap.strings[snap.nodes[i + nameAt]!] ?? "";
    const size = snap.nodes[i + sizeAt]!;
    const key = groupOf(type, name);
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
    bytes += size;
  }
  return { nodes: snap.nodes.length / stride, bytes, groups };
}

/** What grew from one snapshot to a later one: the `limit` groups that added most bytes, or else most objects. */
export function diffHeapSnapshots(
  from: HeapSummary & { readonly cycle: number },
  to: HeapSummary & { readonly cycle: number },
  limit = 15,
): HeapGrowth {
  const cycles = Math.max(1, to.cycle - from.cycle);
  const grown: GroupGrowth[] = [];
  for (const [name, now] of to.groups) {
    const then = from.groups.get(name) ?? { count: 0, bytes: 0 };
    if (now.count <= then.count && now.bytes <= then.bytes) continue;
    grown.push({
      name,
      countFrom: then.count,
      countTo: now.count,
      countPerCycle: (now.count - then.count) / cycles,
      bytesDelta: now.bytes - then.bytes,
    });
  }
  grown.sort((a, b) => b.bytesDelta - a.bytesDelta || b.countTo - b.countFrom - (a.countTo - a.countFrom));
  return {
    from: { cycle: from.cycle, nodes: from.nodes, bytes: from.bytes },
    to: { cycle: to.cycle, nodes: to.nodes, bytes: to.bytes },
    top: grown.slice(0, limit),
  };
}
