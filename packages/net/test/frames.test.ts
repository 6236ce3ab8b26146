/** The sync protocol's framing and hello/message codec, on bytes alone. */
import * as A from "@automerge/automerge";
import type { Message, PeerId } from "@automerge/automerge-repo";
import { cbor } from "@automerge/automerge-repo";
import fc from "fast-check";
import { deflateSync } from "fflate";
import { Uint8ArrayList } from "uint8arraylist";
import { describe, expect, it } from "vitest";
import {
  DEFLATE_RAW,
  DeflateWindow,
  INFLATE_STEP_BYTES,
  portableDeflate,
  WINDOW_BYTES,
} from "../src/frame-compression.js";
import type { Hello } from "../src/frames.js";
import {
  decodeFrame,
  decodeHello,
  encodeActivate,
  encodeControl,
  encodeDeflated,
  encodeFrame,
  encodeHello,
  encodeLength,
  encodeMessage,
  FrameDecoder,
  isActivate,
  isControl,
  varintLength,
} from "../src/frames.js";
import {
  DEFAULT_MAX_FRAME_SIZE,
  FrameTooLargeError,
  InvalidFrameError,
  SYNC_PROTOCOL_VERSION,
  TruncatedFrameError,
} from "../src/index.js";

/** 32 random bytes in hex, as a record id. */
function randomHex(): string {
  return [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A sync message from A to B carrying `data`. */
function syncMessage(data: Uint8Array) {
  return {
    type: "sync",
    senderId: "12D3KooWA" as PeerId,
    targetId: "12D3KooWB" as PeerId,
    documentId: "4NMNnkMhL8jXrdJ9jamS58PAVdXu" as never,
    data,
  } satisfies Message;
}

/** Runs the decoder over `chunks`, collecting frames (as plain arrays) until it throws. */
function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): { frames: number[][]; error?: unknown } {
  const frames: number[][] = [];
  try {
    for (const chunk of chunks) for (const frame of decoder.push(chunk)) frames.push([...frame]);
    return { frames };
  } catch (error) {
    return { frames, error };
  }
}

/** Splits `bytes` at the given cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

describe("length prefix", () => {
  it("is libp2p's unsigned varint", () => {
    expect([...encodeLength(1)]).toEqual([1]);
    expect([...encodeLength(127)]).toEqual([127]);
    expect([...encodeLength(128)]).toEqual([0x80, 0x01]);
    expect([...encodeLength(300)]).toEqual([0xac, 0x02]);
    expect([...encodeLength(64 * 1024 * 1024)]).toEqual([0x80, 0x80, 0x80, 0x20]);
    expect(varintLength(64 * 1024 * 1024)).toBe(4);
  });
});

describe("FrameDecoder", () => {
  it("returns exactly the frames encoded, however the bytes are chunked", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(5_000), { maxLength: 12 }),
        (payloads, cuts) => {
          const wire = new Uint8ArrayList(...payloads.map((p) => encodeFrame(p, 1_000))).subarray();
          const decoder = new FrameDecoder(1_000);
          const { frames, error } = decodeAll(decoder, split(wire, cuts));
          expect(error).toBeUndefined();
          expect(frames).toEqual(payloads.map((p) => [...p]));
          expect(decoder.bufferedBytes).toBe(0);
          expect(() => decoder.end()).not.toThrow();
        },
      ),
    );
  });

  it("rejects an oversized length as soon as the prefix is read, before any payload", () => {
    const decoder = new FrameDecoder(1_000);
    const { frames, error } = decodeAll(decoder, [encodeLength(1_001)]);
    expect(frames).toEqual([]);
    expect(error).toBeInstanceOf(FrameTooLargeError);
  });

  it("rejects a prefix longer than the limit could need instead of waiting for more bytes", () => {
    // 1000 needs two varint bytes: a third continuation byte can only announce a larger frame.
    const { error } = decodeAll(new FrameDecoder(1_000), [Uint8Array.of(0xff, 0xff, 0xff)]);
    expect(error).toBeInstanceOf(FrameTooLargeError);
    // Two continuation bytes could still be a frame in range: it waits.
    expect(decodeAll(new FrameDecoder(1 << 20), [Uint8Array.of(0xff, 0xff)]).error).toBeUndefined();
  });

  it("yields the good frames of a chunk before failing on a bad prefix in it", () => {
    const wire = new Uint8ArrayList(encodeFrame(Uint8Array.of(7, 8), 100), encodeLength(101)).subarray();
    const { frames, error } = decodeAll(new FrameDecoder(100), [wire]);
    expect(frames).toEqual([[7, 8]]);
    expect(error).toBeInstanceOf(FrameTooLargeError);
  });

  it("rejects empty frames", () => {
    expect(decodeAll(new FrameDecoder(100), [Uint8Array.of(0)]).error).toBeInstanceOf(InvalidFrameError);
  });

  it("reports a stream that ends inside a frame, in its prefix or its payload", () => {
    const inPayload = new FrameDecoder(1_000);
    decodeAll(inPayload, [Uint8Array.of(10, 1, 2, 3)]);
    expect(() => inPayload.end()).toThrow(TruncatedFrameError);

    const inPrefix = new FrameDecoder(1_000);
    decodeAll(inPrefix, [Uint8Array.of(0x80)]);
    expect(() => inPrefix.end()).toThrow(TruncatedFrameError);
  });

  it("refuses to encode a frame over the limit", () => {
    expect(() => encodeFrame(new Uint8Array(11), 10)).toThrow(FrameTooLargeError);
  });
});

describe("hello", () => {
  const hello: Hello = {
    version: SYNC_PROTOCOL_VERSION,
    peerId: "12D3KooWPeer",
    peerMetadata: { storageId: "s-1" as never, isEphemeral: false },
    maxFrameSize: 1 << 20,
  };

  it("round-trips, with and without the codecs it accepts (absent before 1.2)", () => {
    expect(decodeHello(encodeHello(hello))).toEqual(hello);
    const compressing = { ...hello, compression: [DEFLATE_RAW, "zstd"] };
    expect(decodeHello(encodeHello(compressing))).toEqual(compressing);
  });

  it("rejects anything that is not a well-formed hello", () => {
    const bad: unknown[] = [
      { type: "sync", senderId: "a", targetId: "b" },
      { type: "hello", version: "1.0", peerId: "p", peerMetadata: {}, maxFrameSize: 10 },
      { type: "hello", version: [1, -1], peerId: "p", peerMetadata: {}, maxFrameSize: 10 },
      { type: "hello", version: [1, 0], peerId: "", peerMetadata: {}, maxFrameSize: 10 },
      { type: "hello", version: [1, 0], peerId: "p", peerMetadata: { storageId: 5 }, maxFrameSize: 10 },
      { type: "hello", version: [1, 0], peerId: "p", peerMetadata: "me", maxFrameSize: 10 },
      { type: "hello", version: [1, 0], peerId: "p", peerMetadata: {}, maxFrameSize: 0 },
      { type: "hello", version: [1, 2], peerId: "p", peerMetadata: {}, maxFrameSize: 10, compression: "deflate-raw" },
      { type: "hello", version: [1, 2], peerId: "p", peerMetadata: {}, maxFrameSize: 10, compression: [1] },
      [1, 0],
      "hello",
    ];
    for (const value of bad) expect(() => decodeHello(cbor.encode(value))).toThrow(InvalidFrameError);
    expect(() => decodeHello(Uint8Array.of(0xff, 0xfe))).toThrow(InvalidFrameError);
  });
});

describe("messages", () => {
  const message = syncMessage(Uint8Array.of(1, 2, 3));

  it("round-trip with their bytes intact", () => {
    const decoded = decodeFrame(encodeMessage(message), DEFAULT_MAX_FRAME_SIZE);
    if (isActivate(decoded)) throw new Error("a message decoded as an activate frame");
    expect(decoded).toMatchObject({ type: "sync", senderId: message.senderId, targetId: message.targetId });
    expect(decoded.data).toBeInstanceOf(Uint8Array);
    expect([...(decoded.data as Uint8Array)]).toEqual([1, 2, 3]);
  });

  it("are told apart from the activate frame by their type", () => {
    expect(isActivate(decodeFrame(encodeActivate(), DEFAULT_MAX_FRAME_SIZE))).toBe(true);
    expect(isActivate(decodeFrame(cbor.encode({ ...message, type: "activate" }), DEFAULT_MAX_FRAME_SIZE))).toBe(true);
    expect(isActivate(decodeFrame(encodeMessage(message), DEFAULT_MAX_FRAME_SIZE))).toBe(false);
  });

  it("are told apart from the hold and held frames, which are control frames of their own type", () => {
    for (const type of ["hold", "held"] as const) {
      const decoded = decodeFrame(encodeControl(type), DEFAULT_MAX_FRAME_SIZE);
      expect(isControl(decoded) && decoded.type).toBe(type);
      expect(isActivate(decoded)).toBe(false);
    }
    expect(isControl(decodeFrame(encodeMessage(message), DEFAULT_MAX_FRAME_SIZE))).toBe(false);
    // Deflated, a control frame is no message: it is refused rather than taken for one.
    expect(() =>
      decodeFrame(
        encodeDeflated(cbor.encode({ type: "hold", pad: "x".repeat(200) })) as Uint8Array,
        DEFAULT_MAX_FRAME_SIZE,
      ),
    ).toThrow(InvalidFrameError);
  });

  it("reject garbage and malformed envelopes instead of passing them to the Repo", () => {
    expect(() => decodeFrame(Uint8Array.of(0xff, 0xff, 0xff), DEFAULT_MAX_FRAME_SIZE)).toThrow(InvalidFrameError);
    const bad: unknown[] = [
      42,
      [message],
      { ...message, type: 7 },
      { ...message, senderId: undefined },
      { ...message, targetId: ["x"] },
      { ...message, documentId: 1 },
      { ...message, data: "bytes" },
      { ...message, type: "hello" },
    ];
    for (const value of bad)
      expect(() => decodeFrame(cbor.encode(value), DEFAULT_MAX_FRAME_SIZE)).toThrow(InvalidFrameError);
  });
});

describe("deflated messages", () => {
  /** A sync message whose data repeats, as the change chunks of a bundle of records do. */
  const bundle = syncMessage(new TextEncoder().encode("donation to the general fund; ".repeat(400)));

  function deflated(size: number, data: Uint8Array): Uint8Array {
    return cbor.encode({ type: "deflate", size, data });
  }

  it("round-trip to the same message, in fewer bytes", () => {
    const plain = encodeMessage(bundle);
    const payload = encodeDeflated(plain);
    if (payload === undefined) throw new Error("a repetitive message was not deflated");
    expect(payload.byteLength).toBeLessThan(plain.byteLength / 4);
    const decoded = decodeFrame(payload, DEFAULT_MAX_FRAME_SIZE);
    if (isActivate(decoded)) throw new Error("a message decoded as an activate frame");
    expect(decoded).toMatchObject({ type: "sync", senderId: bundle.senderId, documentId: bundle.documentId });
    expect([...(decoded.data as Uint8Array)]).toEqual([...bundle.data]);
  });

  it("are read alike by Node's zlib and by the portable inflater browsers use, either way", () => {
    const plain = encodeMessage(bundle);
    const fromNode = cbor.decode(encodeDeflated(plain) as Uint8Array) as { size: number; data: Uint8Array };
    expect(fromNode.size).toBe(plain.byteLength);
    expect([...portableDeflate.inflate(fromNode.data, fromNode.size)]).toEqual([...plain]);
    const fromBrowser = cbor.encode({ type: "deflate", size: plain.byteLength, data: portableDeflate.deflate(plain) });
    const decoded = decodeFrame(fromBrowser, DEFAULT_MAX_FRAME_SIZE);
    expect([...((isActivate(decoded) ? undefined : decoded.data) ?? [])]).toEqual([...bundle.data]);
  });

  it("are not made when deflate would not save a tenth: small messages, saved documents, random bytes", () => {
    // A saved document whose columns Automerge has deflated already, as a whole-document sync message carries it.
    const records: Record<string, string> = {};
    for (let i = 0; i < 500; i++) records[randomHex()] = `donation ${i} to the general fund`;
    const saved = A.save(A.from({ records }));
    expect(encodeDeflated(encodeMessage(syncMessage(saved)))).toBeUndefined();
    expect(encodeDeflated(encodeMessage({ ...bundle, data: Uint8Array.of(1, 2, 3) }))).toBeUndefined();
    const random = new Uint8Array(64 * 1024).map(() => Math.floor(Math.random() * 256));
    expect(encodeDeflated(encodeMessage({ ...bundle, data: random }))).toBeUndefined();
  });

  it("are made when only the start is random, as a sync message's bloom filter comes before its changes", () => {
    const random = new Uint8Array(20 * 1024).map(() => Math.floor(Math.random() * 256));
    const changes = new TextEncoder().encode("donation to the general fund; ".repeat(2_000));
    const payload = encodeMessage(syncMessage(new Uint8Array([...random, ...changes])));
    expect(encodeDeflated(payload)?.byteLength).toBeLessThan(payload.byteLength / 2);
  });

  it("refuse to inflate past the frame limit, so a small frame cannot become a large one", () => {
    const plain = encodeMessage(bundle);
    expect(() => decodeFrame(deflated(plain.byteLength, deflateSync(plain)), plain.byteLength - 1)).toThrow(
      FrameTooLargeError,
    );
    // The declared size is what is checked: data inflating past it is refused whatever size it claims.
    expect(() => decodeFrame(deflated(100, deflateSync(plain)), DEFAULT_MAX_FRAME_SIZE)).toThrow(InvalidFrameError);
    expect(() => decodeFrame(deflated(plain.byteLength + 1, deflateSync(plain)), DEFAULT_MAX_FRAME_SIZE)).toThrow(
      InvalidFrameError,
    );
  });

  it("are inflated by the portable inflater to exactly what was deflated, in one step or many", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * INFLATE_STEP_BYTES }),
        fc.integer({ min: 1, max: 64 }),
        fc.uint8Array({ maxLength: 2_048 }),
        (length, period, dictionary) => {
          // Text repeating with a period, so that the compressed data runs over one step or several.
          const plain = new Uint8Array(length * 8).map((_, i) => (i % period) * 7 + ((i * 31) % 5));
          const withDictionary = dictionary.byteLength > 0 ? dictionary : undefined;
          const data = deflateSync(plain, { level: 1, ...(withDictionary && { dictionary: withDictionary }) });
          expect([...portableDeflate.inflate(data, plain.byteLength, withDictionary)]).toEqual([...plain]);
          expect(() => portableDeflate.inflate(data, plain.byteLength + 1, withDictionary)).toThrow(/fewer/);
          if (plain.byteLength > 0)
            expect(() => portableDeflate.inflate(data, plain.byteLength - 1, withDictionary)).toThrow(/more/);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("stop a deflate bomb in the portable inflater as soon as it passes its size, not after inflating all of it", () => {
    // 64 MiB of zeros deflate to about 64 KiB: claimed as a 1 KiB message, it must be stopped within a step or two.
    const bomb = deflateSync(new Uint8Array(64 * 1024 * 1024), { level: 9 });
    expect(bomb.byteLength).toBeGreaterThan(8 * INFLATE_STEP_BYTES);
    let stoppedAfter = Number.POSITIVE_INFINITY;
    try {
      portableDeflate.inflate(bomb, 1_024);
    } catch (err) {
      const read = /stopped after (\d+) of/.exec((err as Error).message);
      stoppedAfter = Number(read?.[1]);
    }
    expect(stoppedAfter).toBeLessThanOrEqual(2 * INFLATE_STEP_BYTES);
  });

  it("reject what is not one deflated message", () => {
    const plain = encodeMessage(bundle);
    const wrap = (payload: Uint8Array) => deflated(payload.byteLength, deflateSync(payload));
    const hello = encodeHello({ version: SYNC_PROTOCOL_VERSION, peerId: "p", peerMetadata: {}, maxFrameSize: 9 });
    const bad = [
      deflated(plain.byteLength, Uint8Array.of(1, 2, 3, 4, 5)),
      cbor.encode({ type: "deflate", size: "big", data: deflateSync(plain) }),
      cbor.encode({ type: "deflate", size: plain.byteLength }),
      wrap(encodeActivate()),
      wrap(hello),
      wrap(encodeDeflated(plain) as Uint8Array),
    ];
    for (const frame of bad) expect(() => decodeFrame(frame, DEFAULT_MAX_FRAME_SIZE)).toThrow(InvalidFrameError);
  });
});

describe("windowed deflate (1.4)", () => {
  /** Messages as a bundle of one Federa record each: a fresh key and random signature, a signer's key repeated. */
  function records(count: number): Message[] {
    const signer = crypto.getRandomValues(new Uint8Array(32));
    let doc = A.from<{ records: Record<string, Uint8Array> }>({ records: {} });
    const out: Message[] = [];
    for (let i = 0; i < count; i++) {
      const heads = A.getHeads(doc);
      const body = new TextEncoder().encode(
        `{"kind":"donation","fund":"general","amount":${100 + i},"from":"donor ${i}"}`,
      );
      const record = new Uint8Array([...crypto.getRandomValues(new Uint8Array(64)), ...signer, ...body]);
      doc = A.change(doc, (d) => {
        d.records[randomHex()] = record;
      });
      out.push(syncMessage(A.getChangesSince(doc, heads)[0] as Uint8Array));
    }
    return out;
  }

  /** Sends `messages` through a sender's and a receiver's windows; returns what arrived and the payload bytes sent. */
  function cross(messages: readonly Message[], windowed: boolean): { arrived: Message[]; bytes: number } {
    const sending = windowed ? new DeflateWindow() : undefined;
    const receiving = new DeflateWindow();
    const arrived: Message[] = [];
    let bytes = 0;
    for (const message of messages) {
      const plain = encodeMessage(message);
      const payload = encodeDeflated(plain, sending) ?? plain;
      bytes += payload.byteLength;
      const decoded = decodeFrame(payload, DEFAULT_MAX_FRAME_SIZE, receiving);
      if (isControl(decoded)) throw new Error("a message decoded as a control frame");
      arrived.push(decoded);
    }
    return { arrived, bytes };
  }

  it("carries a stream of single records in about half the bytes of frames deflated on their own", () => {
    const messages = records(60);
    const alone = cross(messages, false);
    const windowed = cross(messages, true);
    expect(windowed.arrived.map((m) => [...(m.data as Uint8Array)])).toEqual(
      messages.map((m) => [...(m.data as Uint8Array)]),
    );
    expect(windowed.bytes).toBeLessThan(alone.bytes * 0.6);
  });

  it("round-trips any sequence of messages and control frames, the windows staying in step", () => {
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 3_000 }),
      fc.string({ maxLength: 2_000 }).map((text) => new TextEncoder().encode(text.repeat(3))),
    );
    const step = fc.oneof({ weight: 4, arbitrary: payload }, { weight: 1, arbitrary: fc.constant("hold" as const) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const sending = new DeflateWindow();
        const receiving = new DeflateWindow();
        for (const item of steps) {
          if (item === "hold") {
            // Control frames never join a window: a hold between messages leaves both as they were.
            expect(decodeFrame(encodeControl("hold"), DEFAULT_MAX_FRAME_SIZE, receiving)).toEqual({ type: "hold" });
            continue;
          }
          const plain = encodeMessage(syncMessage(item));
          const decoded = decodeFrame(encodeDeflated(plain, sending) ?? plain, DEFAULT_MAX_FRAME_SIZE, receiving);
          expect([...((decoded as Message).data as Uint8Array)]).toEqual([...item]);
          expect([...receiving.tail()]).toEqual([...sending.tail()]);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("are read alike by Node's zlib and by the portable inflater, either way", () => {
    const [first, second] = records(2).map(encodeMessage) as [Uint8Array, Uint8Array];
    const window = new DeflateWindow();
    window.append(first);
    const fromNode = cbor.decode(encodeDeflated(second, window) as Uint8Array) as { size: number; data: Uint8Array };
    const dictionary = first.subarray(first.byteLength - Math.min(first.byteLength, WINDOW_BYTES));
    expect([...portableDeflate.inflate(fromNode.data, fromNode.size, dictionary)]).toEqual([...second]);
    const receiving = new DeflateWindow();
    receiving.append(first);
    const fromBrowser = cbor.encode({
      type: "deflate",
      size: second.byteLength,
      data: portableDeflate.deflate(second, dictionary),
      window: first.byteLength,
    });
    expect([...((decodeFrame(fromBrowser, DEFAULT_MAX_FRAME_SIZE, receiving) as Message).data ?? [])]).toEqual([
      ...(cbor.decode(second) as Message & { data: Uint8Array }).data,
    ]);
  });

  it("are never larger than the message they carry, however short and however little it shares with the window", () => {
    // Half random, half repeated: deflate saves a tenth or more, but on a short payload less than the envelope costs.
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 400 }), fc.integer({ min: 0, max: 120 }), (random, repeated) => {
        const payload = new Uint8Array([
          ...crypto.getRandomValues(new Uint8Array(random)),
          ...new Uint8Array(repeated),
        ]);
        const window = new DeflateWindow();
        window.append(crypto.getRandomValues(new Uint8Array(1_024)));
        const frame = encodeDeflated(payload, window);
        if (frame !== undefined) expect(frame.byteLength).toBeLessThan(payload.byteLength);
      }),
      { numRuns: 300 },
    );
  });

  it("reject a frame naming more window than crossed, no window, or a window that is not a count", () => {
    const [first, second] = records(2).map(encodeMessage) as [Uint8Array, Uint8Array];
    const sending = new DeflateWindow();
    sending.append(first);
    const frame = encodeDeflated(second, sending) as Uint8Array;
    const named = (cbor.decode(frame) as { window: number }).window;
    expect(named).toBe(first.byteLength);
    const short = new DeflateWindow();
    short.append(first.subarray(1));
    expect(() => decodeFrame(frame, DEFAULT_MAX_FRAME_SIZE, short)).toThrow(InvalidFrameError);
    expect(() => decodeFrame(frame, DEFAULT_MAX_FRAME_SIZE)).toThrow(InvalidFrameError);
    const { size, data } = cbor.decode(frame) as { size: number; data: Uint8Array };
    for (const window of [0, -1, 1.5, "all", WINDOW_BYTES + 1]) {
      const full = new DeflateWindow();
      full.append(new Uint8Array(WINDOW_BYTES));
      const bad = cbor.encode({ type: "deflate", size, data, window });
      expect(() => decodeFrame(bad, DEFAULT_MAX_FRAME_SIZE, full)).toThrow(InvalidFrameError);
    }
  });

  it("keeps the last WINDOW_BYTES of what was appended, whatever the sizes", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 * WINDOW_BYTES }), { maxLength: 12 }), (sizes) => {
        const window = new DeflateWindow();
        let all = Buffer.alloc(0);
        let n = 0;
        for (const size of sizes) {
          const bytes = Buffer.alloc(size);
          for (let i = 0; i < size; i++) bytes[i] = n++ % 251;
          window.append(bytes);
          all = Buffer.concat([all.subarray(Math.max(0, all.byteLength - WINDOW_BYTES)), bytes]);
        }
        const expected = all.subarray(Math.max(0, all.byteLength - WINDOW_BYTES));
        expect(window.size).toBe(expected.byteLength);
        expect(Buffer.from(window.tail()).equals(expected)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
