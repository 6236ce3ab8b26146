/** Waiting helpers: poll a condition, or take the next event that matches. */
import type { EventEmitter } from "eventemitter3";

/** Resolves once `check` holds, polling every 10 ms; rejects after `ms` naming what was awaited. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

type Payload<E extends EventEmitter.ValidEventTypes, K extends EventEmitter.EventNames<E>> = EventEmitter.EventArgs<
  E,
  K
>[0];

/** The next `event` payload from `emitter` that satisfies `match`. */
export function nextEvent<E extends EventEmitter.ValidEventTypes, K extends EventEmitter.EventNames<E>>(
  emitter: EventEmitter<E>,
  event: K,
  match: (payload: Payload<E, K>) => boolean = () => true,
): Promise<Payload<E, K>> {
  return new Promise((resolve) => {
    const listener = ((payload: Payload<E, K>) => {
      if (!match(payload)) return;
      emitter.off(event, listener);
      resolve(payload);
    }) as EventEmitter.EventListener<E, K>;
    emitter.on(event, listener);
  });
}
