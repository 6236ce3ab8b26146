/**
 * Lets automerge-repo's shared adapter suite name its repos freely ("alice", "left"): the suite's names are mapped to
 * and from the libp2p peer ids the real adapter requires, and everything else goes through the real adapter untouched.
 */
import type { Message, PeerId, PeerMetadata } from "@automerge/automerge-repo";
import { NetworkAdapter } from "@automerge/automerge-repo";
import type { Libp2pNetworkAdapter } from "../../src/index.js";

/** The suite's names of the adapters of one setup, both ways. */
export class PeerNames {
  readonly #byName = new Map<string, string>();
  readonly #byId = new Map<string, string>();

  bind(name: string, id: string): void {
    this.#byName.set(name, id);
    this.#byId.set(id, name);
  }

  id(name: string): PeerId {
    return (this.#byName.get(name) ?? name) as PeerId;
  }

  name(id: string): PeerId {
    return (this.#byId.get(id) ?? id) as PeerId;
  }
}

/** A thin adapter that renames peers between the suite and a {@link Libp2pNetworkAdapter}. */
export class NamedAdapter extends NetworkAdapter {
  readonly inner: Libp2pNetworkAdapter;
  readonly #names: PeerNames;

  constructor(inner: Libp2pNetworkAdapter, names: PeerNames) {
    super();
    this.inner = inner;
    this.#names = names;
    inner.on("peer-candidate", ({ peerId, peerMetadata }) => {
      this.emit("peer-candidate", { peerId: names.name(peerId), peerMetadata });
    });
    inner.on("peer-disconnected", ({ peerId }) => this.emit("peer-disconnected", { peerId: names.name(peerId) }));
    inner.on("message", (message) =>
      this.emit(
        "message",
        this.#rename(message, (id) => names.name(id)),
      ),
    );
    inner.on("close", () => this.emit("close"));
  }

  override isReady(): boolean {
    return this.inner.isReady();
  }

  override whenReady(): Promise<void> {
    return this.inner.whenReady();
  }

  override connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId;
    this.#names.bind(peerId, this.inner.peerId);
    this.inner.connect(this.inner.peerId, peerMetadata);
  }

  override send(message: Message): void {
    this.inner.send(this.#rename(message, (name) => this.#names.id(name)));
  }

  override disconnect(): void {
    this.inner.disconnect();
  }

  #rename(message: Message, rename: (peer: string) => PeerId): Message {
    return { ...message, senderId: rename(message.senderId), targetId: rename(message.targetId) };
  }
}
