/** What a scripted story is: a list of steps, each a caption and the acts and network changes it plays. */
import type { PlaceId } from "../peers/cast.js";

/** One thing a step does. People act in their own council; `at` is the place whose computer they use. */
export type StoryAction =
  | { readonly do: "cut" | "restore"; readonly a: PlaceId; readonly b: PlaceId }
  | { readonly do: "offline" | "online"; readonly place: PlaceId }
  | { readonly do: "latency"; readonly place: PlaceId; readonly ms: number }
  | { readonly do: "heal" }
  /** Waits until connected places hold the same documents. */
  | { readonly do: "settle" }
  | { readonly do: "advance"; readonly minutes: number }
  | (Acting &
      (
        | {
            readonly do: "spend";
            readonly fund: string;
            readonly amount: number;
            readonly payee: string;
            readonly memo?: string;
          }
        | { readonly do: "donate"; readonly fund: string; readonly amount: number; readonly from: string }
        | { readonly do: "propose"; readonly title: string; readonly closesIn: number; readonly ref: string }
        | { readonly do: "vote"; readonly proposal: string; readonly choice: "yes" | "no" | "abstain" }
        | { readonly do: "assign"; readonly meeting: string; readonly role: string; readonly holder: string }
        | {
            readonly do: "swap";
            readonly fund: string;
            readonly provider: string;
            readonly minutes: number;
            readonly note: string;
          }
        | { readonly do: "contribute"; readonly jar: string; readonly amount: number }
        | {
            readonly do: "request";
            readonly jar: string;
            readonly amount: number;
            readonly purpose: string;
            readonly ref: string;
          }
        | { readonly do: "dots"; readonly jar: string; readonly dots: Readonly<Record<string, number>> }
        | {
            readonly do: "jar-round";
            readonly jar: string;
            readonly closesIn: number;
            readonly roundCloses: number;
            readonly remainderTo: string;
            readonly ref: string;
          }
        | { readonly do: "recall"; readonly delegate: string; readonly closesIn: number; readonly ref: string }
        | { readonly do: "tick" }
        | { readonly do: "fed-propose"; readonly title: string; readonly closesIn: number; readonly ref: string }
        | { readonly do: "fed-vote"; readonly proposal: string; readonly position: string }
        | { readonly do: "alert"; readonly what: string; readonly needs: string; readonly ref: string }
        | { readonly do: "respond"; readonly alert: string; readonly offer: string }
      ));

/** Who acts and from which place's computer. */
interface Acting {
  readonly at: PlaceId;
  readonly as: string;
}

export interface StoryStep {
  /** What the step shows, in a sentence. */
  readonly caption: string;
  readonly actions: readonly StoryAction[];
}

export interface Story {
  readonly id: string;
  readonly title: string;
  /** What to watch for. */
  readonly summary: string;
  readonly steps: readonly StoryStep[];
}
