/**
 * `federa federation ...`: found a federation with other councils' delegates, invite and join, and act in it as a
 * delegate: propose, and vote through a mandate of one's council.
 */

import type { Invitation } from "@federa/net";
import type { Command } from "commander";
import { collect, parseName, parseReference, parseTime } from "../args.js";
import { now } from "../clock.js";
import { NoCouncilError, UsageError } from "../errors.js";
import { describeRollback, type RolledBack } from "../high-water.js";
import type { CouncilCard } from "../operations.js";
import { execute } from "../session.js";
import { readFederationInvitation, readInvitation } from "../tokens.js";
import { type CommonOptions, common, contextOf, run } from "./common.js";

interface FederationOptions extends CommonOptions {
  readonly federation?: string;
}

/** A federation's name as printed: quoted, or what it means that there is none yet (its founding record not folded). */
function nameLine(name: unknown): string {
  return typeof name === "string" ? `"${name}"` : "(founding record not checked yet)";
}

/** Adds `--federation`, as `--council` is added to council commands. */
function federationOption(command: Command): Command {
  return command.option(
    "-f, --federation <id>",
    "federation id or a unique prefix (optional with one federation)",
    (v: string) => parseReference(v, "--federation"),
  );
}

/** Adds `--federation` and `--council`, the member council a delegate acts for. */
function delegateOptions(command: Command): Command {
  return federationOption(command).option(
    "-c, --council <id>",
    "the member council you act for (optional when you belong to one)",
  );
}

/** The `--council` a delegate passed, as a request field. */
function councilOf(options: { council?: string }): { council?: string } {
  return options.council !== undefined ? { council: options.council } : {};
}

/** What a council's invitation tells a federation: the council, its document, and its delegate's node. */
function cardOf(invitation: Invitation): CouncilCard {
  const { council, url, peer, addresses } = invitation;
  return { council, url, peer, addresses };
}

/** The token of a federation's invitation, from the result of an operation that names one. */
async function tokenOf(result: Record<string, unknown>): Promise<string> {
  const { encodeFederationInvitation } = await import("@federa/net");
  return encodeFederationInvitation({
    federation: String(result.federation),
    url: String(result.url),
    peer: String(result.peer),
    addresses: result.addresses as string[],
    ...(typeof result.council === "string" ? { council: result.council } : {}),
  });
}

export function registerFederation(program: Command): void {
  const federation = program
    .command("federation")
    .description("federations of councils: found, invite, join, propose and vote as a delegate");

  common(
    federation
      .command("create")
      .description("found a federation of your council and others; prints its id and an invitation for their delegates")
      .argument("<name>", "the federation's name")
      .requiredOption(
        "--with <token>",
        "another founding council: the `federa invite` token its delegate gave you (repeatable)",
        collect,
      ),
    { council: true },
  ).action(async (name: string, options: CommonOptions & { council?: string; with: string[] }) => {
    const { dir, out } = contextOf(options);
    const others = await Promise.all(options.with.map(readInvitation));
    const { result } = await execute(
      dir,
      {
        op: "federation.create",
        name,
        council: options.council,
        with: others.map(cardOf),
      },
      out.progress,
    );
    if ((result.addresses as string[]).length === 0)
      out.warn("no known address: start `federa node` on this directory, then `federa federation invite`");
    const token = await tokenOf(result);
    out.result({ ...result, token }, [String(result.federation), token]);
  });

  common(federation.command("list").description("the federations this directory follows")).action(
    async (options: CommonOptions) => {
      await run(options, { op: "federation.list" }, (r) =>
        (r.federations as { federation: string; name: string | null; available: boolean }[]).map(
          (f) => `${f.federation}  ${f.available ? nameLine(f.name) : "(not on this device yet)"}`,
        ),
      );
    },
  );

  common(
    federationOption(
      federation
        .command("invite")
        .description("print an invitation for another delegate (run `federa node` first so it carries addresses)"),
    ),
  ).action(async (options: FederationOptions) => {
    const { dir, out } = contextOf(options);
    const { result } = await execute(dir, { op: "federation.invite", federation: options.federation }, out.progress);
    if ((result.addresses as string[]).length === 0)
      out.warn("no known address: start `federa node` on this directory so the invited can reach it");
    const token = await tokenOf(result);
    out.result({ token, federation: result.federation, peer: result.peer, addresses: result.addresses }, token);
  });

  common(
    federation
      .command("join")
      .description("follow a federation you were invited to: `federa node` fetches it and its member councils")
      .argument("<token>", "the `federa federation invite` token"),
  ).action(async (token: string, options: CommonOptions) => {
    const { dir, out } = contextOf(options);
    const invitation = await readFederationInvitation(token);
    await dir.identity(); // no identity here: say so before writing anything into the directory
    // A federation shares with its member councils' devices only: a directory in no council would wait forever.
    if (Object.keys(await dir.councils()).length === 0)
      throw new NoCouncilError(
        `${dir.root} holds no council: a federation is followed by the delegates of its councils; create or join yours first`,
      );
    // One id names one document: a token giving another URL for it is not this federation's (or not the one followed).
    const followed = (await dir.federations()).find((f) => f.federation === invitation.federation);
    if (followed !== undefined && followed.url !== invitation.url)
      throw new UsageError(
        `${dir.root} already follows federation ${invitation.federation} at another document (${followed.url}); ` +
          `this token names ${invitation.url}: ask the inviter for the federation's current token, or ` +
          "`federa federation leave` first",
      );
    await dir.saveFederation({
      federation: invitation.federation,
      url: invitation.url,
      inviter: {
        peer: invitation.peer,
        addresses: invitation.addresses,
        ...(invitation.council !== undefined ? { council: invitation.council } : {}),
        since: new Date(now()).toISOString(),
      },
    });
    const { result } = await execute(dir, { op: "federation.fetch", federation: invitation.federation }, out.progress);
    out.result({ federation: invitation.federation, available: result.available === true }, [
      invitation.federation,
      result.available === true
        ? "the federation's document is here"
        : "`federa node` on this directory fetches it from the inviter's node",
    ]);
  });

  common(
    federationOption(
      federation
        .command("leave")
        .description(
          "stop following a federation: forget it and the delegates this directory vouches for in it (a running node " +
            "stops vouching for them and syncing its document at once)",
        ),
    ),
  ).action(async (options: FederationOptions) => {
    await run(options, { op: "federation.leave", federation: options.federation }, (r) => [
      `${String(r.federation)} left`,
    ]);
  });

  common(
    delegateOptions(
      federation
        .command("propose")
        .description("open a federation proposal for your council; prints its id")
        .requiredOption("--title <title>", "the proposal's title")
        .option("--text <text>", "its text")
        .option("--topic <topic>", "the mandate topic delegates vote under (default: the proposal's id)")
        .option("--closes <when>", "when the vote closes: +2d or an ISO date (default: the charter's window)")
        .option(
          "--admit <token>",
          "propose admitting the council of this `federa invite` token; its delegate may read the federation meanwhile",
        ),
    ),
  ).action(
    async (
      options: FederationOptions & {
        title: string;
        text?: string;
        topic?: string;
        closes?: string;
        council?: string;
        admit?: string;
      },
    ) => {
      const admit = options.admit === undefined ? undefined : cardOf(await readInvitation(options.admit));
      await run(
        options,
        {
          op: "federation.propose",
          federation: options.federation,
          title: parseName(options.title, "--title"),
          ...(options.text !== undefined ? { text: options.text } : {}),
          ...(options.topic !== undefined ? { topic: options.topic } : {}),
          ...(options.closes !== undefined ? { closesAt: parseTime(options.closes, "--closes") } : {}),
          ...(admit !== undefined ? { admit } : {}),
          ...councilOf(options),
        },
        (r) => String(r.proposal),
      );
    },
  );

  common(
    delegateOptions(
      federation
        .command("tick")
        .description("write an empty record so federation deadlines that have passed take effect"),
    ),
  ).action(async (options: FederationOptions & { council?: string }) => {
    await run(options, { op: "federation.tick", federation: options.federation, ...councilOf(options) }, (r) =>
      String(r.record),
    );
  });

  common(
    delegateOptions(
      federation
        .command("vote")
        .description("cast your council's vote, through the mandate it gave you; says whether it counts")
        .argument("<proposal>", "federation proposal id or a unique prefix")
        .requiredOption("--position <position>", "the position, one your mandate allows on this topic")
        .option("--mandate <id>", "the mandate (optional when your council gave you one)"),
    ),
  ).action(
    async (proposal: string, options: FederationOptions & { position: string; mandate?: string; council?: string }) => {
      await run(
        options,
        {
          op: "federation.vote",
          federation: options.federation,
          proposal,
          position: options.position,
          ...(options.mandate !== undefined ? { mandate: options.mandate } : {}),
          ...councilOf(options),
        },
        (r) => {
          const refused = r.refused as { reason: string | null; detail: string } | undefined;
          if (r.counted) return [String(r.record), "counted"];
          return [
            String(r.record),
            `not counted: ${refused?.reason ?? refused?.detail ?? "see federa federation status"}`,
          ];
        },
      );
    },
  );

  common(
    delegateOptions(
      federation
        .command("alert")
        .description("raise a solidarity alert for your council; prints its id")
        .requiredOption("--what <text>", "what happened")
        .requiredOption("--needs <text>", "what your council needs"),
    ),
  ).action(async (options: FederationOptions & { what: string; needs: string; council?: string }) => {
    await run(
      options,
      {
        op: "federation.alert",
        federation: options.federation,
        what: options.what,
        needs: options.needs,
        ...councilOf(options),
      },
      (r) => String(r.alert),
    );
  });

  common(
    delegateOptions(
      federation
        .command("respond")
        .description("answer an alert for your council; says whether your council met its pledge window")
        .argument("<alert>", "alert id or a unique prefix")
        .requiredOption("--offer <text>", "what your council offers"),
    ),
  ).action(async (alert: string, options: FederationOptions & { offer: string; council?: string }) => {
    await run(
      options,
      {
        op: "federation.respond",
        federation: options.federation,
        alert,
        offer: options.offer,
        ...councilOf(options),
      },
      (r) => [String(r.record), `pledge ${String(r.pledge)}`],
    );
  });

  common(
    delegateOptions(
      federation
        .command("converge")
        .description("propose a convergence: a time box in which delegates ratify coordinated actions; prints its id")
        .requiredOption("--title <title>", "the convergence's title")
        .requiredOption("--action <action>", "a coordinated action delegates may ratify (repeatable)", collect)
        .requiredOption("--starts <when>", "when the box opens: +2d or an ISO date (after the vote closes)")
        .requiredOption("--ends <when>", "when it is dissolved: +5d or an ISO date")
        .option("--text <text>", "the proposal's text")
        .option("--topic <topic>", "the mandate topic ratifications fall under (default: the proposal's id)")
        .option("--closes <when>", "when the vote calling it closes (default: the charter's window)"),
    ),
  ).action(
    async (
      options: FederationOptions & {
        title: string;
        action: string[];
        starts: string;
        ends: string;
        text?: string;
        topic?: string;
        closes?: string;
        council?: string;
      },
    ) => {
      await run(
        options,
        {
          op: "federation.converge",
          federation: options.federation,
          title: parseName(options.title, "--title"),
          actions: options.action,
          startsAt: parseTime(options.starts, "--starts"),
          endsAt: parseTime(options.ends, "--ends"),
          ...(options.text !== undefined ? { text: options.text } : {}),
          ...(options.topic !== undefined ? { topic: options.topic } : {}),
          ...(options.closes !== undefined ? { closesAt: parseTime(options.closes, "--closes") } : {}),
          ...councilOf(options),
        },
        (r) => String(r.proposal),
      );
    },
  );

  common(
    delegateOptions(
      federation
        .command("ratify")
        .description("ratify a convergence's action for your council, through your mandate; says whether it counts")
        .argument("<convergence>", "convergence id (its calling proposal's) or a unique prefix")
        .requiredOption("--action <action>", "one of the convergence's actions, which your mandate allows")
        .option("--mandate <id>", "the mandate (optional when your council gave you one)"),
    ),
  ).action(
    async (
      convergence: string,
      options: FederationOptions & { action: string; mandate?: string; council?: string },
    ) => {
      await run(
        options,
        {
          op: "federation.ratify",
          federation: options.federation,
          convergence,
          action: options.action,
          ...(options.mandate !== undefined ? { mandate: options.mandate } : {}),
          ...councilOf(options),
        },
        (r) => [String(r.record), r.counted ? "counted" : "not counted: see `federa federation status`"],
      );
    },
  );

  common(
    federationOption(federation.command("status").description("a federation's member councils, proposals and votes")),
  ).action(async (options: FederationOptions) => {
    await run(options, { op: "federation.status", federation: options.federation }, (r) => {
      const lines = [`federation ${String(r.federation)} ${nameLine(r.name)}, ${String(r.records)} records`];
      for (const c of r.councils as {
        id: string;
        name: string | null;
        here: boolean;
        consents: boolean | null;
        withdrawn: boolean;
        withdrawnAt: string | null;
      }[]) {
        const where = c.here ? "" : " (not on this device yet)";
        // Without a delegate mandated here, the council shares none of its documents with the federation.
        const consent = c.withdrawn
          ? ` (withdrew at ${c.withdrawnAt}: shares nothing, its delegates do not count)`
          : c.consents === false
            ? " (no delegate mandated: shares nothing yet)"
            : "";
        lines.push(`  council ${c.id.slice(0, 12)} ${c.name ?? ""}${where}${consent}`);
      }
      for (const p of r.proposals as {
        id: string;
        title: string;
        status: string;
        electorate: number;
        votes: Record<string, string>;
      }[]) {
        const votes = Object.entries(p.votes).map(([c, v]) => `${c.slice(0, 8)}=${v}`);
        lines.push(
          `  ${p.status} ${p.id.slice(0, 12)} "${p.title}", ${votes.length}/${p.electorate} voted ${votes.join(" ")}`,
        );
      }
      for (const a of r.alerts as { id: string; what: string; responses: number; pledges: Record<string, string> }[]) {
        const pledges = Object.entries(a.pledges).map(([c, p]) => `${c.slice(0, 8)} ${p}`);
        lines.push(`  alert ${a.id.slice(0, 12)} "${a.what}", ${a.responses} response(s); ${pledges.join(", ")}`);
      }
      for (const c of r.convergences as {
        id: string;
        title: string;
        status: string;
        ratified: Record<string, string[]>;
      }[]) {
        const actions = Object.entries(c.ratified).map(([a, by]) => `${a} ${by.length}`);
        lines.push(`  convergence ${c.id.slice(0, 12)} "${c.title}" ${c.status}; ratified: ${actions.join(", ")}`);
      }
      const conflicts = r.conflicts as { type: string; reason: string | null }[];
      if (conflicts.length > 0) lines.push(`  not counted: ${conflicts.map((c) => c.reason ?? c.type).join(", ")}`);
      for (const drop of r.rolledBack as RolledBack[]) lines.push(`  warning: ${describeRollback(drop)}`);
      return lines;
    });
  });
}
