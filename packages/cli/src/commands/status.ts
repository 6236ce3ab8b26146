/** `federa status`: the node (when it runs), and each council's documents and derived summary. */
import type { Command } from "commander";
import type { CouncilSummary } from "../operations.js";
import { type CommonOptions, common, run } from "./common.js";

function human(r: Record<string, unknown>): string[] {
  const node = r.node as { running: boolean; peerId?: string; addresses?: string[]; peers?: string[] };
  const lines = [`member  ${String(r.member)}${r.name ? ` (${String(r.name)})` : ""}`, `device  ${String(r.device)}`];
  lines.push(node.running ? `node    running, ${node.peers?.length ?? 0} peer(s)` : "node    not running");
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
  }
  for (const a of r.applications as { council: string; proposal: string; delivered: boolean }[]) {
    lines.push(`application to ${a.council.slice(0, 12)}: ${a.delivered ? "delivered" : "not delivered yet"}`);
  }
  return lines;
}

export function registerStatus(program: Command): void {
  common(program.command("status").description("peers, documents and a summary of each council"), {
    council: true,
  }).action(async (options: CommonOptions & { council?: string }) => {
    await run(options, { op: "status", council: options.council }, human);
  });
}
