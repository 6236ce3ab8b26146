/** Delivering an application to the inviter's node: through this directory's running node, or a short-lived one. */
import { type ApplyAnswerCode, applyRequest, sendApplication } from "@federa/net";
import { ControlClient } from "./control-socket.js";
import { CliError, CliErrorCodes, CouncilNotHeldError } from "./errors.js";
import type { Application, NodeDir } from "./node-dir.js";

/** How a member's node before answers carried a code said it does not hold the council. */
const COUNCIL_NOT_HELD_WORDS = "this node does not hold that council";

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

/**
 * What to make of an inviter's `{ok: false}` answer: a refusal of the application is final and marked in `dir` (it is
 * never sent again, nor continued by the next one); one the node marks `retry` (busy, stopping, not ready) is not.
 */
export async function answeredNo(
  dir: NodeDir,
  application: Application,
  answer: { readonly error: string; readonly retry?: true; readonly code?: ApplyAnswerCode },
): Promise<CliError> {
  // Not a refusal (that node may get the council later), but nothing to wait for quietly: the token is likely wrong.
  if (answer.code === "council-not-held" || (answer.retry === true && answer.error === COUNCIL_NOT_HELD_WORDS))
    return new CouncilNotHeldError(application.council, application.inviter);
  if (answer.retry === true)
    return new CliError(
      CliErrorCodes.NODE_UNREACHABLE,
      `the inviter's node did not take the application yet: ${answer.error}`,
    );
  await dir.saveApplication({ ...application, refused: answer.error });
  return refused(answer.error);
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
    if (!answer.ok) throw await answeredNo(dir, application, answer);
    return answer.proposal;
  } finally {
    await node.stop();
  }
}
