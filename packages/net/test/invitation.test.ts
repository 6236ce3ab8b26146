/** Invitation tokens: the browser-safe codec, what it refuses and why, and tokens made by the old Node encoder. */

import { generateAutomergeUrl } from "@automerge/automerge-repo/slim";
import { createIdentity } from "@federa/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Invitation } from "../src/index.js";
import {
  BadInvitationError,
  decodeFederationInvitation,
  decodeInvitation,
  encodeFederationInvitation,
  encodeInvitation,
  inviterAddresses,
  webSocketAddresses,
} from "../src/index.js";

/** The CLI's encoder before the codec moved here: tokens it printed must still be read. */
function nodeEncode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** The CLI's decoder before the codec moved here: a CLI of that version reads tokens printed now. */
function nodeDecode(token: string): unknown {
  return JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
}

/** Why a token is refused (failing the test if it is read). */
function reasonOf(token: string): string {
  try {
    decodeInvitation(token);
  } catch (e) {
    if (e instanceof BadInvitationError) return e.reason;
    throw e;
  }
  throw new Error(`read a token that should be refused: ${token}`);
}

const COUNCIL = "a3".repeat(32);
let peers: string[] = [];
let valid: Invitation;

beforeAll(async () => {
  peers = await Promise.all([1, 2, 3].map(async () => (await createIdentity()).device.id as string));
  valid = {
    v: 1,
    council: COUNCIL,
    url: "automerge:2j9knpCseyhnK8izDmLpGP5WMdZQ",
    peer: peers[0]!,
    addresses: ["/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/tcp/4002/ws"],
    members: [peers[1]!],
  };
});

describe("encodeInvitation and decodeInvitation", () => {
  it("round-trips an invitation, with or without members, and ignores whitespace around the token", () => {
    expect(decodeInvitation(encodeInvitation(valid))).toEqual(valid);
    const { members: _, ...withoutMembers } = valid;
    const decoded = decodeInvitation(`  ${encodeInvitation(withoutMembers)}\n`);
    expect(decoded).toEqual(withoutMembers);
    expect("members" in decoded).toBe(false);
  });

  it("writes unpadded base64url, the same text as the old Node encoder, for every length", () => {
    // Addresses of 0 to 3 extra characters cover every remainder of the byte count modulo 3.
    for (const extra of ["", "a", "ab", "abc"]) {
      const invitation = { ...valid, addresses: [`/dns4/node${extra}.example/tcp/443/wss`] };
      const token = encodeInvitation(invitation);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(token).toBe(nodeEncode(invitation));
    }
  });

  it("reads tokens made by the old Node encoder, and the old decoder reads the new ones, whatever text they hold", () => {
    const text = fc.string({ unit: "binary", maxLength: 40 });
    const invitations = fc.record(
      {
        v: fc.constant(1 as const),
        council: fc.stringMatching(/^[0-9a-f]{64}$/),
        url: fc.constant(null).map(() => generateAutomergeUrl() as string),
        peer: fc.constantFrom(...peers),
        addresses: fc.array(
          fc.oneof(
            fc.integer({ min: 1, max: 65_535 }).map((port) => `/ip4/127.0.0.1/tcp/${port}`),
            fc.domain().map((host) => `/dns4/${host}/tcp/443/wss`),
          ),
          { maxLength: 4 },
        ),
        members: fc.array(text, { maxLength: 3 }),
      },
      { requiredKeys: ["v", "council", "url", "peer", "addresses"] },
    );
    fc.assert(
      fc.property(invitations, (invitation) => {
        const expected = JSON.parse(JSON.stringify(invitation));
        expect(decodeInvitation(nodeEncode(invitation))).toEqual(expected);
        expect(nodeDecode(encodeInvitation(invitation))).toEqual(expected);
      }),
    );
  });

  it("reads non-ASCII text in a token exactly (UTF-8, not one byte per character)", () => {
    const invitation = { ...valid, addresses: ["/dns4/café.example/tcp/443/wss", "/dns4/合作社.example/tcp/4002/ws"] };
    expect(decodeInvitation(nodeEncode(invitation)).addresses).toEqual(invitation.addresses);
  });

  it("keeps only the text entries of members, and drops members that are not a list", () => {
    const mixed = decodeInvitation(nodeEncode({ ...valid, members: [peers[1], 7, null, peers[2]] }));
    expect(mixed.members).toEqual([peers[1], peers[2]]);
    const notAList = decodeInvitation(nodeEncode({ ...valid, members: peers[1] }));
    expect("members" in notAList).toBe(false);
  });
});

describe("a token decodeInvitation refuses", () => {
  it("throws BadInvitationError, whose message says it is not a valid token and why", () => {
    let thrown: unknown;
    try {
      decodeInvitation("not a token");
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(BadInvitationError);
    expect(thrown).toMatchObject({
      name: "BadInvitationError",
      reason: "it is not base64url text",
      message: "not a valid invitation token: it is not base64url text",
    });
  });

  it("is not base64url text", () => {
    for (const token of ["not a token", "", "   ", "eyJ2IjoxfQ==", "ab+c", "ab/c", "ab.c"]) {
      expect(reasonOf(token)).toBe("it is not base64url text");
    }
  });

  it("does not hold JSON", () => {
    // "A" is not even one byte; the others decode to text that is not JSON ("e30x" is "{}" and a stray byte).
    for (const token of ["A", nodeEncode("x").slice(1), Buffer.from("hello").toString("base64url"), "e30x"]) {
      expect(reasonOf(token)).toBe("it does not hold JSON");
    }
  });

  it("is of an unknown version", () => {
    const { v: _, ...unversioned } = valid;
    for (const value of [null, [], "text", 1, { ...valid, v: 2 }, { ...valid, v: "1" }, unversioned]) {
      expect(reasonOf(nodeEncode(value))).toBe("unknown token version");
    }
  });

  it("names no council id", () => {
    const { council: _, ...without } = valid;
    for (const council of [COUNCIL.toUpperCase(), COUNCIL.slice(1), `${COUNCIL}0`, 42]) {
      expect(reasonOf(nodeEncode({ ...valid, council }))).toBe("no council id");
    }
    expect(reasonOf(nodeEncode(without))).toBe("no council id");
  });

  it("names no council document URL", () => {
    const { url: _, ...without } = valid;
    for (const url of ["https://example.org/doc", "", 42, "Automerge:2j9k"]) {
      expect(reasonOf(nodeEncode({ ...valid, url }))).toBe("no council document URL");
    }
    expect(reasonOf(nodeEncode(without))).toBe("no council document URL");
  });

  it("names no inviter peer id", () => {
    const { peer: _, ...without } = valid;
    const peer = valid.peer;
    for (const bad of [
      "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", // an RSA peer id: devices use Ed25519 keys
      peer.slice(0, -1),
      `${peer}x`,
      `${peer.slice(0, -1)}0`, // 0 is not a base58 digit
      42,
    ]) {
      expect(reasonOf(nodeEncode({ ...valid, peer: bad }))).toBe("no inviter peer id");
    }
    expect(reasonOf(nodeEncode(without))).toBe("no inviter peer id");
  });

  it("has addresses that are not multiaddr strings", () => {
    const { addresses: _, ...without } = valid;
    for (const addresses of [
      "/ip4/127.0.0.1/tcp/4001",
      [7],
      ["ip4/127.0.0.1/tcp/4001"],
      ["/ip4/1.2.3.4/tcp/1", null],
    ]) {
      expect(reasonOf(nodeEncode({ ...valid, addresses }))).toBe("addresses must be multiaddr strings");
    }
    expect(reasonOf(nodeEncode(without))).toBe("addresses must be multiaddr strings");
  });
});

describe("the inviter's addresses", () => {
  it("end in the inviter's peer id, and a browser is given only the WebSocket ones", () => {
    const peer = valid.peer;
    const inviter = {
      peer,
      addresses: [
        "/ip4/127.0.0.1/tcp/4001",
        "/ip4/127.0.0.1/tcp/4002/ws",
        `/dns4/node.example/tcp/443/wss/p2p/${peer}`,
        "/dns4/node.example/tcp/443/tls/ws",
        "/ip4/127.0.0.1/tcp/4003/wsx",
      ],
    };
    expect(inviterAddresses(inviter)).toEqual([
      `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`,
      `/ip4/127.0.0.1/tcp/4002/ws/p2p/${peer}`,
      `/dns4/node.example/tcp/443/wss/p2p/${peer}`,
      `/dns4/node.example/tcp/443/tls/ws/p2p/${peer}`,
      `/ip4/127.0.0.1/tcp/4003/wsx/p2p/${peer}`,
    ]);
    expect(webSocketAddresses(inviter)).toEqual([
      `/ip4/127.0.0.1/tcp/4002/ws/p2p/${peer}`,
      `/dns4/node.example/tcp/443/wss/p2p/${peer}`,
      `/dns4/node.example/tcp/443/tls/ws/p2p/${peer}`,
    ]);
  });
});

describe("federation invitations", () => {
  const federation = "b7".repeat(32);
  const url = "automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu";

  it("round-trip, and neither kind of token is read as the other", () => {
    const token = encodeFederationInvitation({ federation, url, peer: valid.peer, addresses: valid.addresses });
    expect(decodeFederationInvitation(token)).toEqual({
      v: 1,
      kind: "federation",
      federation,
      url,
      peer: valid.peer,
      addresses: valid.addresses,
    });
    expect(reasonOf(token)).toMatch(/federation join/);
    expect(() => decodeFederationInvitation(encodeInvitation(valid))).toThrow(/not a federation's invitation/);
    // The inviter's council, when named, comes along.
    const council = "c8".repeat(32);
    const named = encodeFederationInvitation({ federation, url, council, peer: valid.peer, addresses: [] });
    expect(decodeFederationInvitation(named).council).toBe(council);
  });

  it("say what is missing or unusable", () => {
    const read = (value: object) => {
      try {
        decodeFederationInvitation(nodeEncode({ v: 1, kind: "federation", ...value }));
      } catch (e) {
        if (e instanceof BadInvitationError) return e.reason;
        throw e;
      }
      throw new Error("read a token that should be refused");
    };
    const whole = { federation, url, peer: valid.peer, addresses: [] };
    expect(read({ ...whole, federation: "abc" })).toBe("no federation id");
    expect(read({ ...whole, url: "https://example.org" })).toBe("no federation document URL");
    expect(read({ ...whole, peer: "bob" })).toBe("no inviter peer id");
    expect(read({ ...whole, addresses: [4001] })).toBe("addresses must be multiaddr strings");
    // An address libp2p cannot parse, or a document URL Automerge would refuse, would fail only later, at dial or find.
    expect(read({ ...whole, addresses: ["/not-a-protocol/1"] })).toBe("addresses must be multiaddr strings");
    expect(read({ ...whole, url: "automerge:not-base58-0OIl" })).toBe("no federation document URL");
    expect(read({ ...whole, council: "Bakers" })).toBe("the inviter's council is not a council id");
  });
});
