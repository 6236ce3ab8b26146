/** `federa node`: runs the node of a directory until SIGINT or SIGTERM (see node-daemon.ts). */
import { type Command, InvalidArgumentError, Option } from "commander";
import { catchStopSignals } from "../signals.js";
import { type CommonOptions, common, contextOf } from "./common.js";

interface NodeOptions extends CommonOptions {
  readonly listen?: string[];
  readonly bootstrap?: string[];
  readonly mdns: boolean;
  readonly dht?: boolean;
  readonly dhtPrivate?: boolean;
  readonly banMs?: number;
  /** `--open-wait`, parsed to milliseconds. */
  readonly openWait?: number;
}

/** `--ban-ms`: a whole number of milliseconds, 0 or more. */
export function parseBanMs(value: string): number {
  // Digits only, as parseCount takes them: Number() would also read "", "0x10" and "1e3".
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError("a whole number of milliseconds, 0 or more");
  return ms;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
    throw new InvalidArgumentError("a number of seconds, more than 0 and at most 3600");
  return Math.round(seconds * 1000);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerNode(program: Command): void {
  common(
    program
      .command("node")
      .description("run the node: sync councils with peers until SIGINT or SIGTERM")
      .option(
        "--listen <multiaddr>",
        "address to listen on (repeatable; default /ip4/0.0.0.0/tcp/0 and /ip4/0.0.0.0/tcp/0/ws)",
        collect,
      )
      .option("--bootstrap <multiaddr>", "a peer to dial and keep dialling (repeatable)", collect)
      .option("--no-mdns", "do not discover peers on the local network")
      .addOption(
        new Option(
          "--dht",
          "find the councils' devices beyond the local network through a DHT (join it with --bootstrap)",
        ),
      )
      .addOption(
        new Option(
          "--dht-private",
          "like --dht, keeping private and loopback addresses in the DHT (one organisation's network, or one machine)",
        ).conflicts("dht"),
      )
      .option(
        "--no-bundle-changes",
        "send large rounds of changes as they are, not as bundles (bundles, the default, take fewer bytes and a little CPU)",
      )
      .option(
        "--trim-documents",
        "send a whole document as the changes a peer lacks when that is smaller: fewer bytes for more CPU (metered links)",
      )
      .option(
        "--ban-ms <ms>",
        "how long a peer that breaks the sync protocol is refused, doubling on each repeat (0: never; default 600000)",
        parseBanMs,
      )
      .option(
        "--open-wait <seconds>",
        "how long to wait for connected members to send a council or federation not stored here, before trying again later (default 5)",
        parseSeconds,
      ),
  ).action(async (options: NodeOptions) => {
    // Caught before anything slow: a node told to stop while it starts still stops cleanly, exit code 0.
    const stop = catchStopSignals();
    const { dir, out } = contextOf(options);
    // Loaded on demand: the other commands never load libp2p.
    const { runNode } = await import("../node-daemon.js");
    await runNode(dir, out, options, stop);
  });
}
