/** A strike fund overdrawn by two offline spends, and a strike vote that flips when the shops sync again. */
import type { Story } from "./story.js";

export const overdraft: Story = {
  id: "overdraft",
  title: "A strike fund overdrawn by two offline spends",
  summary:
    "Both shops spend from the same 450.00 while apart, and vote on joining the strike. After the merge the later spend is held (never applied) on every computer, and the north shop sees its vote flip.",
  steps: [
    {
      caption: "Bruno proposes joining Friday's city-wide bread strike; the vote closes in two hours.",
      actions: [
        {
          do: "propose",
          at: "north",
          as: "Bruno",
          title: "Join Friday's city-wide bread strike",
          closesIn: 120,
          ref: "strike",
        },
      ],
    },
    {
      caption:
        "The line to the south shop goes down: the north shop and the union hall on one side, the south shop alone.",
      actions: [
        { do: "cut", a: "north", b: "south" },
        { do: "cut", a: "south", b: "hall" },
      ],
    },
    {
      caption: "North: Amara pays 240.00 for picket signs, under the 250.00 petty-cash limit.",
      actions: [
        {
          do: "spend",
          at: "north",
          as: "Amara",
          fund: "strike-fund",
          amount: 24_000,
          payee: "Northside Print Shop",
          memo: "Picket signs and banners",
        },
      ],
    },
    {
      caption: "South: Dara pays 230.00 towards Emeka's rent. Each side sees 450.00; together they need 470.00.",
      actions: [
        {
          do: "spend",
          at: "south",
          as: "Dara",
          fund: "strike-fund",
          amount: 23_000,
          payee: "Mill Street Lettings",
          memo: "Hardship grant: March rent",
        },
      ],
    },
    {
      caption: "North: Amara and Bruno vote yes, Chen votes no. The north shop sees the strike passing.",
      actions: [
        { do: "vote", at: "north", as: "Amara", proposal: "strike", choice: "yes" },
        { do: "vote", at: "north", as: "Bruno", proposal: "strike", choice: "yes" },
        { do: "vote", at: "north", as: "Chen", proposal: "strike", choice: "no" },
      ],
    },
    {
      caption: "South: Dara and Emeka vote no.",
      actions: [
        { do: "vote", at: "south", as: "Dara", proposal: "strike", choice: "no" },
        { do: "vote", at: "south", as: "Emeka", proposal: "strike", choice: "no" },
      ],
    },
    {
      caption:
        "The line comes back. Every computer derives the same verdicts: the later spend is held, the strike fails 2–3.",
      actions: [{ do: "heal" }, { do: "settle" }],
    },
  ],
};
