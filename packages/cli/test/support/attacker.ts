/**
 * A misbehaving peer run as its own process against a real `federa node`: it opens raw `/federa/sync/1.0.0` streams
 * over libp2p and writes garbage, oversized, truncated or spoofed frames, printing one JSON line per attempt with how
 * the node answered.
 *
 * Usage: node --import tsx attacker.ts --target MULTIADDR [--identity DIR] [--impersonate PEER_ID] SCENARIO...
 * Scenarios: honest, garbage, oversized, truncated, spoofed-hello, spoofed-sender, stranger.
 * With --identity the attacker holds that directory's device key (a member's device gone bad); `stranger` always uses
 * a fresh key of its own.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cbor } from "@automerge/automerge-repo/slim";
import { createIdentity, type Identity, type IdentityFile, importIdentity } from "@federa/core";
import { createNode, type FederaNode, SYNC_PROTOCOL } from "@federa/net";
import { nodeOptions } from "@federa/net/node";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";

/** The frame size limit the attacker announces, as an honest node does. */
const MAX_FRAME = 64 * 1024 * 1024;
/** How long the node has to close a stream after a violation. */
const CLOSE_TIMEOUT_MS = 10_000;

/** What one attempt printed. */
export interface AttackResult {
  readonly scenario: string;
  /** The attacker's peer id (its device id). */
  readonly as: string;
  /** Frames the node sent on the stream before it closed. */
  readonly frames: number;
  /** The node's hello arrived (the node accepted us as a sync peer at least up to the handshake). */
  readonly hello: boolean;
  /** The stream was closed within the timeout. */
  readonly closed: boolean;
  /** The node reset the stream (an abort for a violation), rather than our side closing it. */
  readonly resetByNode: boolean;
  readonly error?: string;
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  let rest = n;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Uint8Array.from(out);
}

function frame(payload: Uint8Array): Uint8Array {
  const prefix = varint(payload.byteLength);
  const out = new Uint8Array(prefix.byteLength + payload.byteLength);
  out.set(prefix);
  out.set(payload, prefix.byteLength);
  return out;
}

/** One raw sync stream and what came back on it. */
class Probe {
  readonly stream: Stream;
  readonly frames: Uint8Array[] = [];
  readonly closed: Promise<{ error?: Error; local?: boolean }>;
  #buffer = new Uint8Array(0);
  readonly #waiters: (() => void)[] = [];

  constructor(stream: Stream) {
    this.stream = stream;
    this.closed = new Promise((resolve) => {
      stream.addEventListener("close", (e) => resolve({ error: e.error, local: e.local }), { once: true });
      // The node may have ended the stream before this listener existed (a refusal comes within a round trip).
      if (stream.status !== "open") resolve({});
    });
    stream.addEventListener("message", (e) => {
      const data = e.data instanceof Uint8Array ? e.data : e.data.subarray();
      const joined = new Uint8Array(this.#buffer.byteLength + data.byteLength);
      joined.set(this.#buffer);
      joined.set(data, this.#buffer.byteLength);
      this.#buffer = joined;
      this.#split();
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Cuts whole frames off the front of the buffer. */
  #split(): void {
    for (;;) {
      let length = 0;
      let i = 0;
      for (; i < this.#buffer.byteLength && i < 8; i++) {
        const byte = this.#buffer[i]!;
        length += (byte & 0x7f) * 2 ** (7 * i);
        if ((byte & 0x80) === 0) break;
      }
      if (i >= this.#buffer.byteLength || this.#buffer.byteLength < i + 1 + length) return;
      this.frames.push(this.#buffer.slice(i + 1, i + 1 + length));
      this.#buffer = this.#buffer.slice(i + 1 + length);
    }
  }

  /** Writes bytes unless the node has already closed the stream (which is what an attack is waiting for). */
  send(bytes: Uint8Array): void {
    if (this.stream.writeStatus === "writable") this.stream.send(bytes);
  }

  /** Waits for the node's hello (the first frame); false if the stream closed or time ran out first. */
  async hello(ms = CLOSE_TIMEOUT_MS): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.stream.status !== "open" || Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    const first = cbor.decode(this.frames[0]!) as { type?: unknown };
    return first.type === "hello";
  }

  /** Resolves with how the stream closed, or undefined when it is still open after the timeout. */
  async end(ms = CLOSE_TIMEOUT_MS): Promise<{ error?: Error; local?: boolean } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    const result = await Promise.race([this.closed, timeout]);
    clearTimeout(timer);
    return result;
  }
}

function helloFrame(peerId: string): Uint8Array {
  return frame(cbor.encode({ type: "hello", version: [1, 0], peerId, peerMetadata: {}, maxFrameSize: MAX_FRAME }));
}

/** Starts a libp2p node with the device key of `identity`, dialling only (no listener, no discovery, no sync). */
async function attackerNode(identity: Identity): Promise<FederaNode> {
  const node = await createNode({ identity, ...nodeOptions({ listen: [], mdns: false }) });
  // The node must not speak the sync protocol itself, or the target would open its own stream to it alongside ours.
  const deadline = Date.now() + 5_000;
  while (!node.libp2p.getProtocols().includes(SYNC_PROTOCOL) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await node.libp2p.unhandle(SYNC_PROTOCOL);
  return node;
}

/**
 * Opens a sync stream to the target, reusing the connection while it lasts; a refused dial is tried again (libp2p
 * turns away a host that opens too many connections in a second).
 */
async function openStream(node: FederaNode, target: string): Promise<Stream> {
  const deadline = Date.now() + CLOSE_TIMEOUT_MS;
  for (;;) {
    try {
      return await node.libp2p.dialProtocol(multiaddr(target), SYNC_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function run(
  node: FederaNode,
  target: string,
  scenario: string,
  impersonate: string | undefined,
): Promise<AttackResult> {
  const self = node.libp2p.peerId.toString();
  const targetId = /\/p2p\/([^/]+)$/.exec(target)?.[1] ?? "";
  const stream = await openStream(node, target);
  const probe = new Probe(stream);
  let hello = false;
  switch (scenario) {
    case "honest":
    case "stranger": {
      probe.send(helloFrame(self));
      hello = await probe.hello(scenario === "stranger" ? 3_000 : CLOSE_TIMEOUT_MS);
      // An accepted peer closes its side politely; the node then ends the stream without resetting it.
      if (scenario === "honest") await stream.close().catch(() => {});
      break;
    }
    case "garbage": {
      probe.send(helloFrame(self));
      hello = await probe.hello();
      // 0xff is a CBOR "break" with nothing to break: no decoder accepts it as a value.
      probe.send(frame(Uint8Array.from([0xff, 0xfe, 0xfd, 0xfc, 0x00, 0x01, 0x02, 0x03])));
      break;
    }
    case "oversized": {
      // A length prefix one byte over the 64 MiB cap, then a little of the promised payload.
      probe.send(varint(MAX_FRAME + 1));
      probe.send(new Uint8Array(1024));
      break;
    }
    case "truncated": {
      probe.send(helloFrame(self));
      hello = await probe.hello();
      // A frame that promises 1000 bytes, ten of which arrive before the writer closes its side.
      probe.send(varint(1000));
      probe.send(new Uint8Array(10));
      await stream.close().catch(() => {});
      break;
    }
    case "spoofed-hello": {
      probe.send(helloFrame(impersonate ?? ""));
      break;
    }
    case "spoofed-sender": {
      probe.send(helloFrame(self));
      hello = await probe.hello();
      probe.send(
        frame(
          cbor.encode({
            type: "request",
            senderId: impersonate,
            targetId,
            documentId: "4NMNnkMhL8jXrdJ9jamS58PAVdXu",
            data: new Uint8Array(8),
          }),
        ),
      );
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
  const closed = await probe.end();
  const status = stream.status;
  if (closed === undefined) stream.abort(new Error("the node left the stream open"));
  return {
    scenario,
    as: self,
    frames: probe.frames.length,
    hello,
    closed: closed !== undefined,
    // "reset" is the status a stream takes when the remote end aborts it ("aborted" when we do, "closed" when both
    // sides closed politely).
    resetByNode: status === "reset",
    ...(closed?.error ? { error: closed.error.name } : {}),
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      target: { type: "string" },
      identity: { type: "string" },
      impersonate: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.target === undefined) throw new Error("--target MULTIADDR is required");
  const own =
    values.identity !== undefined
      ? await importIdentity(JSON.parse(await readFile(join(values.identity, "identity.json"), "utf8")) as IdentityFile)
      : await createIdentity();
  const nodes: FederaNode[] = [];
  try {
    const member = await attackerNode(own);
    nodes.push(member);
    let stranger: FederaNode | undefined;
    for (const scenario of positionals) {
      let node = member;
      if (scenario === "stranger") {
        stranger ??= await attackerNode(await createIdentity());
        if (!nodes.includes(stranger)) nodes.push(stranger);
        node = stranger;
      }
      const result = await run(node, values.target, scenario, values.impersonate);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } finally {
    // libp2p's stop can wait forever on a connection the target aborted (a ban), as `federa node` guards against too.
    const stopped = Promise.allSettled(nodes.map((n) => n.stop()));
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 3_000))]);
  }
}

await main();
process.exit(0);
