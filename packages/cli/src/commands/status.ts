/** `federa status`: the node (when it runs), and each council's documents and derived summary. */
import type { Command } from "commander";
import { describeRollback } from "../high-water.js";
import { type CouncilSummary, FUTURE_TOLERANCE_MS } from "../operations.js";
import { type CommonOptions, common, run } from "./common.js";

/** Future records printed per council; `--json` lists more. */
const FUTURE_SHOWN = 10;

/** Warns of records stamped ahead of this machine's clock: they move the council's time forward for everyone. */
function future(c: CouncilSummary): string[] {
  const f = c.futureRecords;
  if (f === undefined || f.count === 0) return [];
  const ahead = `more than ${FUTURE_TOLERANCE_MS / 60_000} minutes ahead of this machine's clock`;
  const lines = [`  warning: ${f.count} record(s) stamped ${ahead}`];
  for (const r of f.records.slice(0, FUTURE_SHOWN))
    lines.push(`    ${r.id.slice(0, 12)} ${r.kind} by ${r.author} at ${r.at}`);
  if (f.count > FUTURE_SHOWN) lines.push(`    … and ${f.count - FUTURE_SHOWN} more`);
  return lines;
}

/** Warns of signers whose chain got shorter since this directory last saw it: records it verified are gone. */
function rolledBack(c: CouncilSummary): string[] {
  return (c.rolledBack ?? []).map((r) => `  warning: ${describeRollback(r)}`);
}

function human(r: Record<string, unknown>): string[] {
  const node = r.node as {
    running: boolean;
    peerId?: string;
    addresses?: string[];
    peers?: string[];
    discovered?: string[];
    lookups?: number;
  };
  const lines = [`member  ${String(r.member)}${r.name ? ` (${String(r.name)})` : ""}`, `device  ${String(r.device)}`];
  lines.push(
    node.running
      ? `node    running, ${node.peers?.length ?? 0} peer(s) connected, ${node.discovered?.length ?? 0} discovered` +
          (node.lookups ? `, ${node.lookups} DHT lookup(s)` : "")
      : "node    not running",
  );
  for (const p of node.peers ?? []) lines.push(`  peer ${p}`);
  for (const c of r.councils as CouncilSummary[]) {
    lines.push("");
    if (!c.available) {
      lines.push(`council ${c.id}: ${c.reason ?? "unavailable"}`);
      continue;
    }
    lines.push(`council ${c.id} "${c.name ?? ""}"${c.member ? "" : " (you are not a member)"}`);
    lines.push(`  records ${c.records}, members ${c.members?.length ?? 0}, horizon ${c.horizon}`);
    for (const f of c.funds ?? []) lines.push(`  fund ${f.id} (${f.type}): ${f.balance}`);
    for (const p of c.openProposals ?? []) {
      lines.push(
        `  open ${p.id.slice(0, 12)} "${p.title}" ${p.method}, ${p.votes}/${p.electorate} voted, closes ${p.closesAt}`,
      );
    }
    lines.push(`  conflicts ${c.conflicts}, excluded records ${c.excluded}`);
    lines.push(...future(c));
    lines.push(...rolledBack(c));
  }
  for (const a of r.applications as { council: string; proposal: string; delivered: boolean }[]) {
    lines.push(`application to ${a.council.slice(0, 12)}: ${a.delivered ? "delivered" : "not delivered yet"}`);
  }
  for (const j of (r.joins as { council: string; inviter: string }[] | undefined) ?? []) {
    lines.push(`joined ${j.council.slice(0, 12)} as another device of this member (from ${j.inviter.slice(0, 16)})`);
  }
  for (const d of (r.damaged as string[] | undefined) ?? []) lines.push(`warning: ${d}`);
  return lines;
}

export function registerStatus(program: Command): void {
  common(program.command("status").description("peers, documents and a summary of each council"), {
    council: true,
  }).action(async (options: CommonOptions & { council?: string }) => {
    await run(options, { op: "status", council: options.council }, human);
  });
}
