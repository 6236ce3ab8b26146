/** Act as any member from any place's computer: the forms call the Council and Federation APIs on that place's node. */
import type { MandateId, ProposalId, RecordId } from "@federa/core";
import { useState } from "react";
import type { PlaceId } from "../peers/cast.js";
import { COUNCILS, councilOf, FEDERATION_NAME, PEOPLE, PLACE_IDS, PLACES } from "../peers/cast.js";
import type { World, WorldSnapshot } from "../peers/world.js";

type Kind = "spend" | "donate" | "propose" | "vote" | "assign" | "swap" | "tick" | "fed-vote" | "alert" | "respond";

const KINDS: readonly { kind: Kind; label: string }[] = [
  { kind: "spend", label: "spend (petty cash)" },
  { kind: "donate", label: "record a donation" },
  { kind: "propose", label: "propose" },
  { kind: "vote", label: "vote" },
  { kind: "assign", label: "assign a role" },
  { kind: "swap", label: "record a time swap" },
  { kind: "tick", label: "tick (let deadlines pass)" },
  { kind: "fed-vote", label: "federation: vote as delegate" },
  { kind: "alert", label: "federation: raise an alert" },
  { kind: "respond", label: "federation: answer an alert" },
];

export interface ActPanelProps {
  readonly world: World;
  readonly snapshot: WorldSnapshot;
  readonly busy: boolean;
  readonly run: (what: () => Promise<unknown>) => Promise<void>;
  readonly nameOf: (id: string) => string;
}

/** Parses "240" or "240.50" into minor units; anything else ("1,000", "1e3", "0x10") is refused, not guessed at. */
function minor(text: string): number {
  const m = /^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (m === null) throw new Error(`"${text}" is not an amount: write it like 240 or 240.50`);
  return Number(m[1]) * 100 + Number((m[2] ?? "0").padEnd(2, "0"));
}

export function ActPanel({ world, snapshot, busy, run, nameOf }: ActPanelProps) {
  const [person, setPerson] = useState("Amara");
  const [place, setPlace] = useState<PlaceId>("north");
  const [kind, setKind] = useState<Kind>("spend");
  const [fund, setFund] = useState("");
  const [amount, setAmount] = useState("240");
  const [text, setText] = useState("");
  const [target, setTarget] = useState("");
  const [choice, setChoice] = useState("yes");
  const [error, setError] = useState<string | null>(null);

  const key = councilOf(person);
  const state = snapshot.places[place].view?.councils[key];
  const federation = snapshot.places[place].view?.federation;
  const cash = state?.funds.filter((f) => f.type === "cash") ?? [];
  const fundId = cash.some((f) => f.id === fund) ? fund : (cash[0]?.id ?? "");
  const openProposals = state?.proposals.filter((p) => p.status === "open") ?? [];
  const member = world.keys.members.get(person)!;
  const mandate = state?.mandates.find((m) => m.delegate === member && m.body === FEDERATION_NAME);
  const fedOpen = federation?.proposals.filter((p) => p.status === "open") ?? [];
  const alerts = federation?.alerts ?? [];
  const others = COUNCILS[key].people.filter((p) => p !== person);
  const choices: readonly string[] =
    kind === "vote"
      ? openProposals.map((p) => p.id)
      : kind === "fed-vote"
        ? fedOpen.map((p) => p.id)
        : kind === "assign" || kind === "swap"
          ? others
          : kind === "respond"
            ? alerts.map((a) => a.id)
            : [];
  // What the form shows is what is signed: a choice no longer offered (another person or place) falls to the first.
  const chosen = choices.includes(target) ? target : choices[0];

  const submit = async () => {
    setError(null);
    const councilId = world.node(place).council(key).council.id;
    const act = (what: string, fn: Parameters<World["act"]>[4]) => world.act(place, person, key, what, fn);
    const fed = (what: string, fn: Parameters<World["actFederation"]>[3]) =>
      world.actFederation(place, person, what, fn);
    try {
      switch (kind) {
        case "spend": {
          const cents = minor(amount);
          await act(`spends ${amount} from ${fundId} to ${text || "someone"}`, (c) =>
            c.ledger.spend(fundId, cents, text || "someone", "petty"),
          );
          break;
        }
        case "donate": {
          const cents = minor(amount);
          await act(`records ${amount} into ${fundId}`, (c) => c.ledger.donate(fundId, cents, text || "a supporter"));
          break;
        }
        case "propose":
          await act(`proposes "${text || "A proposal"}"`, (c) =>
            c.propose({ title: text || "A proposal", closesAt: world.clock.peek() + Number(amount || "60") * 60_000 }),
          );
          break;
        case "vote": {
          const proposal = chosen;
          if (proposal === undefined) throw new Error("no open proposal here");
          await act(`votes ${choice}`, (c) =>
            c.vote(proposal as ProposalId, { method: "majority", choice: choice as "yes" | "no" | "abstain" }),
          );
          break;
        }
        case "assign": {
          const holder = world.keys.members.get(chosen!)!;
          await act(`asks ${nameOf(holder)} to be facilitator of ${text || "the next assembly"}`, (c) =>
            c.assignRole(text || "Next assembly", "facilitator", holder),
          );
          break;
        }
        case "swap": {
          const provider = world.keys.members.get(chosen!)!;
          await act(`records ${amount} minutes of work from ${nameOf(provider)}`, (c) =>
            c.ledger.swap("time-bank", provider, Number(amount), text || undefined),
          );
          break;
        }
        case "tick":
          await act("writes a tick", (c) => c.tick());
          break;
        case "fed-vote": {
          const proposal = chosen;
          if (proposal === undefined) throw new Error("no open federation proposal here");
          if (mandate === undefined) throw new Error(`${person} holds no mandate for the federation`);
          await fed(`votes ${choice} for the ${COUNCILS[key].name}`, (f) =>
            f.vote(proposal as ProposalId, { council: councilId, mandate: mandate.id as MandateId, position: choice }),
          );
          break;
        }
        case "alert":
          await fed(`raises an alert: ${text}`, (f) =>
            f.raiseAlert({ council: councilId, what: text || "We need help", needs: "people and support" }),
          );
          break;
        case "respond": {
          const alert = chosen;
          if (alert === undefined) throw new Error("no alert here");
          await fed(`answers an alert`, (f) =>
            f.respondToAlert(alert as RecordId, { council: councilId, offer: text || "We are coming" }),
          );
          break;
        }
      }
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const field = (label: string, control: React.ReactNode) => (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is the label's child, passed in as `control`
    <label className="field">
      <span>{label}</span>
      {control}
    </label>
  );

  return (
    <div className="card" data-testid="act-panel">
      <h2>Act as a member</h2>
      <div className="form">
        {field(
          "who",
          <select value={person} onChange={(e) => setPerson(e.target.value)} data-testid="act-person">
            {PEOPLE.map((p) => (
              <option key={p} value={p}>
                {p} ({COUNCILS[councilOf(p)].short})
              </option>
            ))}
          </select>,
        )}
        {field(
          "at",
          <select value={place} onChange={(e) => setPlace(e.target.value as PlaceId)} data-testid="act-place">
            {PLACE_IDS.map((p) => (
              <option key={p} value={p}>
                {PLACES[p].name}
              </option>
            ))}
          </select>,
        )}
        {field(
          "act",
          <select
            value={kind}
            onChange={(e) => {
              const next = e.target.value as Kind;
              // The amount field means money for spends and donations, minutes for proposals and swaps.
              const minutes = (k: Kind) => k === "propose" || k === "swap";
              if (minutes(next) !== minutes(kind)) setAmount(minutes(next) ? "60" : "240");
              setKind(next);
              setTarget("");
            }}
            data-testid="act-kind"
          >
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>,
        )}
        {(kind === "spend" || kind === "donate") &&
          field(
            "fund",
            <select value={fundId} onChange={(e) => setFund(e.target.value)} data-testid="act-fund">
              {cash.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.id}
                </option>
              ))}
            </select>,
          )}
        {(kind === "spend" || kind === "donate" || kind === "swap" || kind === "propose") &&
          field(
            kind === "swap" ? "minutes" : kind === "propose" ? "closes in (min)" : "amount",
            <input
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              data-testid="act-amount"
              inputMode="decimal"
            />,
          )}
        {(kind === "vote" || kind === "fed-vote") &&
          field(
            "on",
            <select value={chosen ?? ""} onChange={(e) => setTarget(e.target.value)} data-testid="act-proposal">
              {(kind === "vote" ? openProposals : fedOpen).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.title}
                </option>
              ))}
            </select>,
          )}
        {(kind === "vote" || kind === "fed-vote") &&
          field(
            "choice",
            <select value={choice} onChange={(e) => setChoice(e.target.value)} data-testid="act-choice">
              <option value="yes">yes</option>
              <option value="no">no</option>
              <option value="abstain">abstain</option>
            </select>,
          )}
        {(kind === "assign" || kind === "swap") &&
          field(
            kind === "assign" ? "holder" : "worker",
            <select value={chosen ?? ""} onChange={(e) => setTarget(e.target.value)} data-testid="act-member">
              {others.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>,
          )}
        {kind === "respond" &&
          field(
            "alert",
            <select value={chosen ?? ""} onChange={(e) => setTarget(e.target.value)} data-testid="act-alert">
              {alerts.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.what}
                </option>
              ))}
            </select>,
          )}
        {kind !== "vote" &&
          kind !== "fed-vote" &&
          kind !== "tick" &&
          field(
            kind === "spend"
              ? "payee"
              : kind === "donate"
                ? "from"
                : kind === "assign"
                  ? "meeting"
                  : kind === "respond"
                    ? "offer"
                    : kind === "swap"
                      ? "note"
                      : kind === "alert"
                        ? "what"
                        : "title",
            <input value={text} onChange={(e) => setText(e.target.value)} data-testid="act-text" />,
          )}
      </div>
      <div className="row" style={{ marginTop: 6 }}>
        <button
          type="button"
          className="primary"
          disabled={busy || state === undefined}
          onClick={() => void run(submit)}
          data-testid="act-submit"
        >
          act
        </button>
        <span className="small muted">
          signs with {person}'s key on the {PLACES[place].name} computer
          {kind === "fed-vote" && !mandate ? " (no mandate)" : ""}
        </span>
      </div>
      {error && (
        <div className="error-text" data-testid="act-error">
          {error}
        </div>
      )}
      <div className="small muted" style={{ marginTop: 4 }}>
        Deadlines follow the page's clock: move it on from the top bar, then tick.
      </div>
    </div>
  );
}
