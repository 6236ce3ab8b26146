/** `federa device add|revoke|list`: which devices act for this member in a council, signed with the member key. */
import type { Command } from "commander";
import { type CommonOptions, common, run } from "./common.js";

interface CouncilOptions extends CommonOptions {
  readonly council?: string;
}

export function registerDevice(program: Command): void {
  const device = program.command("device").description("the devices that act for you in a council");

  common(
    device
      .command("add")
      .description("authorise another device of yours (its id is printed by `federa init --device-of`)")
      .argument("<device>", "the device id (12D3KooW...)")
      .option("--label <label>", "a name for the device, kept in the record"),
    { council: true },
  ).action(async (id: string, options: CouncilOptions & { label?: string }) => {
    await run(
      options,
      {
        op: "device.add",
        council: options.council,
        device: id,
        ...(options.label !== undefined ? { label: options.label } : {}),
      },
      (r) => (r.record === null ? `${String(r.device)} is already authorised` : String(r.record)),
    );
  });

  common(
    device
      .command("revoke")
      .description("revoke one of your devices: the council's nodes stop sending it updates and refuse its records")
      .argument("<device>", "the device id or a unique prefix")
      .option("--force", "revoke it even if it is your last device in the council"),
    { council: true },
  ).action(async (id: string, options: CouncilOptions & { force?: boolean }) => {
    const request = {
      op: "device.revoke" as const,
      council: options.council,
      device: id,
      force: options.force === true,
    };
    await run(options, request, (r) =>
      r.thisDevice
        ? [String(r.record), "(that was this device: it can no longer write for you here)"]
        : String(r.record),
    );
  });

  common(device.command("list").description("your devices in a council"), { council: true }).action(
    async (options: CouncilOptions) => {
      await run(options, { op: "device.list", council: options.council }, (r) => {
        const devices = r.devices as { device: string; thisDevice: boolean }[];
        const lines = devices.map((d) => `${d.device}${d.thisDevice ? "  (this device)" : ""}`);
        if (!r.authorised) lines.push(`this device (${String(r.thisDevice)}) is not authorised in this council yet`);
        return lines;
      });
    },
  );
}
