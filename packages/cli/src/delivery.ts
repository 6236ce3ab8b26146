/** Delivering an application to the inviter's node: through this directory's running node, or a short-lived one. */
import { applyRequest, sendApplication } from "@federa/net";
import { ControlClient } from "./control-socket.js";
import { CliError, CliErrorCodes } from "./errors.js";
import type { Application, NodeDir } from "./node-dir.js";

/** The sealed application stored in the directory, as the protocol sends it. */
export function requestOf(application: Application) {
  return applyRequest(application.council, {
    record: application.record as never,
    bytes: new Uint8Array(Buffer.from(application.bytes, "base64")),
  });
}

/** Thrown by the inviter's answer: the application was read and refused. */
export function refused(reason: string): CliError {
  return new CliError(CliErrorCodes.APPLICATION_REFUSED, `the inviter's node refused the application: ${reason}`);
}

/** Answers that say nothing against the application itself (the inviter's node busy, stopping, not ready yet). */
const NOT_YET = [/^rate limited/, /does not hold that council/, /node has stopped/i, /timed out|aborted/i];

/**
 * What to make of an inviter's `{ok: false}` answer: a refusal of the application is final and marked in `dir` (it is
 * never sent again, nor continued by the next one); any other answer is an error worth retrying.
 */
export async function answeredNo(dir: NodeDir, application: Application, error: string): Promise<CliError> {
  if (NOT_YET.some((pattern) => pattern.test(error)))
    return new CliError(
      CliErrorCodes.NODE_UNREACHABLE,
      `the inviter's node did not take the application yet: ${error}`,
    );
  await dir.saveApplication({ ...application, refused: error });
  return refused(error);
}

/** Hands the application to the inviter's node; returns the admission proposal's id. */
export async function deliverApplication(dir: NodeDir, application: Application, timeoutMs: number): Promise<string> {
  const client = await ControlClient.connect(dir.socketPath);
  if (client !== null) {
    try {
      return String((await client.call({ op: "apply.deliver", record: application.record })).proposal);
    } finally {
      client.close();
    }
  }
  // No node runs here: a short-lived one, with this device's key, that listens nowhere and discovers nothing.
  const { startNode } = await import("./network.js");
  const node = await startNode(dir, { listen: [], bootstrap: [], mdns: false, storage: false });
  try {
    const answer = await sendApplication(
      node.libp2p,
      { peer: application.inviter, addresses: application.addresses },
      requestOf(application),
      timeoutMs,
    );
    if (!answer.ok) throw await answeredNo(dir, application, answer.error);
    return answer.proposal;
  } finally {
    await node.stop();
  }
}
