/** `federa init`: a new member identity and device key in a new node directory, or a new device of a member. */
import { chmod, stat } from "node:fs/promises";
import { createIdentity, generateKeypair, type Identity, type MemberId, publicKeyOf } from "@federa/core";
import type { Command } from "commander";
import { IdentityExistsError, UsageError } from "../errors.js";
import { type CommonOptions, common, contextOf } from "./common.js";

interface InitOptions extends CommonOptions {
  readonly name: string;
  readonly deviceOf?: string;
}

/** A device key alone for `member`, whose member key stays on the device that holds it. */
async function deviceOf(member: string): Promise<Identity> {
  if (publicKeyOf(member) === undefined)
    throw new UsageError(`not a member id: ${member} (expected a 12D3KooW... peer id)`);
  return { member: member as MemberId, device: await generateKeypair() };
}

export function registerInit(program: Command): void {
  common(
    program
      .command("init")
      .description("create a member identity and its first device key in the node directory")
      .requiredOption("-n, --name <name>", "the member's display name")
      .option("--device-of <member>", "a new device of this existing member: a device key only, no member key"),
  ).action(async (options: InitOptions) => {
    const { dir, out } = contextOf(options);
    if (await dir.hasIdentity()) throw new IdentityExistsError(dir.identityPath);
    const identity = options.deviceOf === undefined ? await createIdentity() : await deviceOf(options.deviceOf);
    const existing = await stat(dir.root).catch(() => undefined);
    await dir.create();
    if (existing === undefined) {
      // A directory made for private keys: owner only, whatever the umask.
      await chmod(dir.root, 0o700);
    } else if ((existing.mode & 0o044) !== 0) {
      // Someone else's choice of mode is left alone; the key files themselves are written owner-only.
      out.warn(
        `${dir.root} is readable by group or others (mode ${(existing.mode & 0o777).toString(8).padStart(4, "0")}); ` +
          `its key files are owner-only, but consider \`chmod 700 ${dir.root}\``,
      );
    }
    await dir.writeIdentity(identity, {
      name: options.name,
      member: identity.member,
      device: identity.device.id,
      created: new Date().toISOString(),
    });
    const human = [`member ${identity.member}`, `device ${identity.device.id}`];
    if (options.deviceOf !== undefined)
      human.push(`authorise it from the device holding the member key: federa device add ${identity.device.id}`);
    out.result(
      {
        member: identity.member,
        device: identity.device.id,
        memberKey: identity.memberKey !== undefined,
        name: options.name,
        dir: dir.root,
      },
      human,
    );
  });
}
