/**
 * A memory transport whose latency can change while it runs: @libp2p/memory's own `latency` option, read from the
 * listener's connection object on every buffer, is set at runtime on the listener this wrapper keeps.
 */
import type { Listener, Transport } from "@libp2p/interface";
import { memory } from "@libp2p/memory";

type MemoryTransportFactory = ReturnType<typeof memory>;

/** The latency of every connection dialled to one node's memory listener. */
export class LatencyKnob {
  #listeners: Listener[] = [];
  #ms = 0;

  get ms(): number {
    return this.#ms;
  }

  /** Sets the delay (ms) added to each buffer sent either way over connections dialled to this node. */
  set(ms: number): void {
    this.#ms = ms;
    for (const listener of this.#listeners) {
      // @libp2p/memory keeps the option on the listener's connection object and reads it per buffer.
      const connection = (listener as unknown as { connection?: { latency: number } }).connection;
      if (connection !== undefined) connection.latency = ms;
    }
  }

  /** The memory transport of a node, reporting its listeners to this knob. */
  transport(): MemoryTransportFactory {
    const factory = memory({ latency: this.#ms });
    return (components) => {
      const transport: Transport = factory(components);
      const createListener = transport.createListener.bind(transport);
      transport.createListener = (options) => {
        const listener = createListener(options);
        this.#listeners.push(listener);
        listener.addEventListener("listening", () => this.set(this.#ms));
        return listener;
      };
      return transport;
    };
  }
}
