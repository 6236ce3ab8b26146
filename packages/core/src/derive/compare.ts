/** What a merge changed: compares two derived states of one council and lists the changes an assembly should see. */
import type { CouncilState } from "./view.js";

/** One change a merge brought, in plain words, with the record or proposal it concerns. */
export interface MergeChange {
  readonly type:
    | "outcome-changed"
    | "expense-held"
    | "out-of-mandate"
    | "rotation-conflict"
    | "rotation-violation"
    | "member-change"
    | "balance-changed"
    | "late-vote"
    | "effect-failed";
  readonly ref: string;
  readonly detail: string;
}

/** Lists what differs between the state before a merge and after it (new conflicts, flipped outcomes, balances). */
export function compareStates(before: CouncilState, after: CouncilState): MergeChange[] {
  const changes: MergeChange[] = [];
  const old = new Map(before.proposals.map((p) => [p.id, p]));
  for (const p of after.proposals) {
    const was = old.get(p.id);
    const wasPassing = was?.result?.passed ?? null;
    const nowPassing = p.result?.passed ?? null;
    if (was !== undefined && wasPassing !== null && nowPassing !== null && wasPassing !== nowPassing) {
      changes.push({
        type: "outcome-changed",
        ref: p.id,
        detail: `"${p.title}": ${wasPassing ? "passing" : "failing"} → ${nowPassing ? "passed" : "failed"}${p.status === "open" ? " (still open)" : ""}`,
      });
    }
  }
  const seen = new Set(before.conflicts.map((c) => `${c.type}:${c.record}`));
  const map = {
    "overdraft-held": "expense-held",
    "unapproved-held": "expense-held",
    "debt-limit-held": "expense-held",
    "out-of-mandate": "out-of-mandate",
    "rotation-conflict": "rotation-conflict",
    "rotation-violation": "rotation-violation",
    "late-vote": "late-vote",
    "effect-failed": "effect-failed",
  } as const;
  for (const c of after.conflicts) {
    if (!seen.has(`${c.type}:${c.record}`)) changes.push({ type: map[c.type], ref: c.record, detail: c.detail });
  }
  const members = new Set(before.members.map((m) => m.id));
  for (const m of after.members)
    if (!members.has(m.id)) changes.push({ type: "member-change", ref: m.id, detail: `${m.id} is now a member` });
  const now = new Set(after.members.map((m) => m.id));
  for (const m of before.members)
    if (!now.has(m.id)) changes.push({ type: "member-change", ref: m.id, detail: `${m.id} is no longer a member` });
  const balances = new Map(before.funds.map((f) => [f.id, f.balance]));
  for (const f of after.funds) {
    const b = balances.get(f.id);
    if (b !== undefined && b !== f.balance)
      changes.push({ type: "balance-changed", ref: f.id, detail: `${f.id}: ${b} → ${f.balance}` });
  }
  return changes;
}
