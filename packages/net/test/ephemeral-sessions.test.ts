import type { DocumentId, EphemeralMessage, PeerId, SessionId } from "@automerge/automerge-repo";
import { describe, expect, it } from "vitest";
import { EphemeralSessions, MAX_SESSION_ID_LENGTH } from "../src/ephemeral-sessions.js";

const message = (sender: string, sessionId: unknown, count: unknown): EphemeralMessage =>
  ({
    type: "ephemeral",
    senderId: sender as PeerId,
    targetId: "me" as PeerId,
    documentId: "doc" as DocumentId,
    sessionId: sessionId as SessionId,
    count: count as number,
    data: new Uint8Array([1]),
  }) as EphemeralMessage;

describe("EphemeralSessions", () => {
  it("hands on every sender's messages under one session, with counts that only go up", () => {
    const sessions = new EphemeralSessions();
    const out = [
      sessions.admit(message("ana", "a1", 5)),
      sessions.admit(message("ben", "b1", 1)),
      sessions.admit(message("ana", "a2", 1)),
      sessions.admit(message("ben", "b1", 2)),
    ];
    expect(out.map((m) => m?.sessionId)).toEqual(Array(4).fill(sessions.session));
    expect(new EphemeralSessions().session).not.toBe(sessions.session); // another adapter of the same Repo
    expect(out.map((m) => m?.count)).toEqual([1, 2, 3, 4]);
    expect(out.map((m) => m?.senderId)).toEqual(["ana", "ben", "ana", "ben"]);
    expect(out[0]?.data).toEqual(new Uint8Array([1]));
  });

  it("drops a count already seen in the sender's current session, not in a new one", () => {
    const sessions = new EphemeralSessions();
    expect(sessions.admit(message("ana", "a1", 3))).toBeDefined();
    expect(sessions.admit(message("ana", "a1", 3))).toBeUndefined();
    expect(sessions.admit(message("ana", "a1", 2))).toBeUndefined();
    expect(sessions.admit(message("ana", "a1", 4))).toBeDefined();
    expect(sessions.admit(message("ana", "a2", 1))).toBeDefined(); // restarted
    // Only the sender's latest session is remembered: going back to an old one starts it afresh.
    expect(sessions.admit(message("ana", "a1", 1))).toBeDefined();
  });

  it("drops messages without a string session id or a finite count", () => {
    const sessions = new EphemeralSessions();
    expect(sessions.admit(message("ana", 7, 1))).toBeUndefined();
    expect(sessions.admit(message("ana", { x: 1 }, 1))).toBeUndefined();
    expect(sessions.admit(message("ana", "a1", undefined))).toBeUndefined();
    expect(sessions.admit(message("ana", "a1", Number.NaN))).toBeUndefined();
    expect(sessions.admit(message("ana", "a1", "2"))).toBeUndefined();
    expect(sessions.admit(message("ana", "a1", 1))).toBeDefined();
  });

  it("drops messages whose session id is longer than any automerge-repo makes", () => {
    const sessions = new EphemeralSessions();
    expect(sessions.admit(message("ana", "x".repeat(MAX_SESSION_ID_LENGTH + 1), 1))).toBeUndefined();
    expect(sessions.admit(message("ana", "x".repeat(MAX_SESSION_ID_LENGTH), 1))).toBeDefined();
  });
});
