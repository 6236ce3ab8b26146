/** `federa init`: a new member identity and device key in a new node directory. */
import { chmod } from "node:fs/promises";
import { createIdentity } from "@federa/core";
import type { Command } from "commander";
import { IdentityExistsError } from "../errors.js";
import { type CommonOptions, common, contextOf } from "./common.js";

interface InitOptions extends CommonOptions {
  readonly name: string;
}

export function registerInit(program: Command): void {
  common(
    program
      .command("init")
      .description("create a member identity and its first device key in the node directory")
      .requiredOption("-n, --name <name>", "the member's display name"),
  ).action(async (options: InitOptions) => {
    const { dir, out } = contextOf(options);
    if (await dir.hasIdentity()) throw new IdentityExistsError(dir.identityPath);
    const identity = await createIdentity();
    await dir.create();
    // The directory holds private keys: owner only, even when it existed before.
    await chmod(dir.root, 0o700);
    await dir.writeIdentity(identity, {
      name: options.name,
      member: identity.member,
      device: identity.device.id,
      created: new Date().toISOString(),
    });
    out.result({ member: identity.member, device: identity.device.id, name: options.name, dir: dir.root }, [
      `member ${identity.member}`,
      `device ${identity.device.id}`,
    ]);
  });
}
