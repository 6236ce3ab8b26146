/** `federa invite` and `federa join`: an invitation token from a member, an application from the invited. */

import type { CouncilId } from "@federa/core";
import { sealApplication } from "@federa/core";
import type { Invitation } from "@federa/net";
import type { Command } from "commander";
import { parseDuration, parseReference } from "../args.js";
import { now as clock } from "../clock.js";
import { CliError, CliErrorCodes, UsageError } from "../errors.js";
import type { Application, NodeDir } from "../node-dir.js";
import type { CouncilSummary } from "../operations.js";
import type { Output } from "../output.js";
import { execute } from "../session.js";
import { readInvitation } from "../tokens.js";
import { type CommonOptions, common, contextOf, oneCouncil } from "./common.js";

interface JoinOptions extends CommonOptions {
  readonly note: string;
  readonly deliver: boolean;
  readonly timeout: string;
  readonly reapply?: boolean;
}

/**
 * Another device of a member already in the council: its member authorised it from the device holding the member
 * key (`federa device add`), so there is nothing to apply for, only documents to fetch from the inviter.
 */
async function joinAsDevice(dir: NodeDir, invitation: Invitation, out: Output): Promise<void> {
  await dir.saveJoin({
    council: invitation.council,
    url: invitation.url,
    inviter: invitation.peer,
    addresses: invitation.addresses,
  });
  await dir.addCouncil(invitation.council, invitation.url);
  const { result } = await execute(dir, { op: "council.fetch", council: invitation.council }, out.progress);
  out.result({ council: invitation.council, device: true, available: result.available === true }, [
    invitation.council,
    result.available === true
      ? "the council's documents are here"
      : "`federa node` on this directory fetches the documents from the inviter once this device is authorised",
  ]);
}

/** A member applying to their own council would only write a record the council excludes. */
async function refuseIfMember(dir: NodeDir, council: string, out: Output): Promise<void> {
  if ((await dir.councils())[council] === undefined) return;
  const status = await execute(dir, { op: "status", council }, out.progress).catch(() => undefined);
  const summary = (status?.result.councils as readonly CouncilSummary[] | undefined)?.[0];
  if (summary?.available === true && summary.member === true)
    throw new UsageError(`you are already a member of council ${council}: there is nothing to apply for`);
}

export function registerInvite(program: Command): void {
  common(
    program
      .command("invite")
      .description("print an invitation token to a council (run `federa node` first so it carries addresses)")
      .argument("[council]", "council id or a unique prefix (optional with one council)", (v: string) =>
        parseReference(v, "council"),
      ),
    { council: true },
  ).action(async (council: string | undefined, options: CommonOptions & { council?: string }) => {
    const { dir, out } = contextOf(options);
    const named = oneCouncil(council, options.council);
    const { result } = await execute(dir, { op: "invite", council: named }, out.progress);
    const addresses = result.addresses as string[];
    if (addresses.length === 0) {
      out.warn("no known address: start `federa node` on this directory so the invited can reach it");
    } else if (result.lastRun === true) {
      // Ports are chosen afresh at each start: the node may listen elsewhere by the time the token is used.
      out.warn(
        `no node is running on ${dir.root}: the addresses are those of its last run (node.json), and its ports ` +
          "change between runs; invite again while `federa node` runs",
      );
    }
    const { encodeInvitation } = await import("@federa/net");
    const token = encodeInvitation({
      v: 1,
      council: String(result.council),
      url: String(result.url),
      peer: String(result.peer),
      addresses,
      members: (result.members as string[] | undefined) ?? [],
    });
    out.result({ token, council: result.council, peer: result.peer, addresses }, token);
  });

  common(
    program
      .command("join")
      .description(
        "ask to join a council: sign an application and hand it to the inviter's node (a device made with " +
          "`init --device-of` only fetches the council, once its member has authorised it)",
      )
      .argument("<token>", "the invitation token")
      .option("--note <text>", "a note to the members", "")
      .option("--no-deliver", "only prepare the application (`federa node` delivers it later)")
      .option("--timeout <duration>", "how long to try reaching the inviter", "20s")
      .option("--reapply", "sign a new application even if one to this council exists"),
  ).action(async (token: string, options: JoinOptions) => {
    const { dir, out } = contextOf(options);
    const invitation = await readInvitation(token);
    const timeoutMs = parseDuration(options.timeout, "--timeout");
    const identity = await dir.identity();
    if (identity.memberKey === undefined) {
      if (!(invitation.members ?? []).includes(identity.member)) {
        throw new CliError(
          CliErrorCodes.NOT_A_MEMBER,
          "applying needs the member key, which this device does not hold (it joins only councils its member is in)",
        );
      }
      await joinAsDevice(dir, invitation, out);
      return;
    }
    await refuseIfMember(dir, invitation.council, out);
    // A refused application was never stored by the council: a new one starts the chain afresh rather than after it.
    const earlier = (await dir.applications()).filter(
      (a) => a.council === invitation.council && a.refused === undefined,
    );
    let application: Application | undefined = options.reapply ? undefined : earlier.at(-1);
    if (application === undefined) {
      const sealed = await sealApplication(identity, invitation.council as CouncilId, options.note, {
        earlier: earlier.map((a) => ({
          record: a.record as never,
          bytes: new Uint8Array(Buffer.from(a.bytes, "base64")),
        })),
        now: clock,
        alreadyMember: invitation.members?.includes(identity.member) ?? false,
      });
      application = {
        council: invitation.council,
        url: invitation.url,
        inviter: invitation.peer,
        addresses: invitation.addresses,
        record: sealed.record,
        bytes: Buffer.from(sealed.bytes).toString("base64"),
        delivered: false,
      };
    } else {
      // A new token may carry fresher addresses for the same inviter.
      application = { ...application, inviter: invitation.peer, addresses: invitation.addresses };
    }
    await dir.addCouncil(invitation.council, invitation.url);
    await dir.saveApplication(application);
    let error: string | undefined;
    if (options.deliver && !application.delivered) {
      const pending = application;
      const { deliverApplication } = await import("../delivery.js");
      try {
        await out.progress.during("delivering the application to the inviter's node", () =>
          deliverApplication(dir, pending, timeoutMs),
        );
        application = { ...pending, delivered: true };
        await dir.saveApplication(application);
      } catch (e) {
        // A refusal is final (the inviter's node read the application and said no); an unreachable node is not.
        if (e instanceof CliError && e.code === CliErrorCodes.APPLICATION_REFUSED)
          throw new CliError(
            e.code,
            `${e.message} (it is not sent again: once the cause is fixed, \`federa join\` with the token signs a new one)`,
            e.exitCode,
          );
        // The inviter's node lacks the council the token names: waiting for it quietly would hide a wrong token.
        if (e instanceof CliError && e.code === CliErrorCodes.COUNCIL_NOT_HELD) throw e;
        error = (e as Error).message;
        out.warn(`application not delivered yet (${error}); \`federa node\` on this directory will deliver it`);
      }
    }
    out.result(
      {
        council: invitation.council,
        proposal: application.record,
        delivered: application.delivered,
        ...(error ? { error } : {}),
      },
      application.record,
    );
  });
}
