/** A delegate recalled while voting: the vote cast after the recall stops counting when the news arrives. */
import type { Story } from "./story.js";

export const recall: Story = {
  id: "recall",
  title: "A delegate recalled while voting",
  summary:
    "The bakery recalls Bruno at the south shop while, cut off at the north shop, he votes against a joint kitchen in the federation. After the merge his vote is out of mandate and the kitchen passes.",
  steps: [
    {
      caption: "Farah proposes a joint strike kitchen to the federation; delegates vote through their mandates.",
      actions: [
        {
          do: "fed-propose",
          at: "hall",
          as: "Farah",
          title: "Open a joint strike kitchen at the union hall",
          closesIn: 120,
          ref: "kitchen",
        },
      ],
    },
    {
      caption: "Farah votes yes for the tenants' union.",
      actions: [{ do: "fed-vote", at: "hall", as: "Farah", proposal: "kitchen", position: "yes" }],
    },
    {
      caption: "The south shop's line goes down.",
      actions: [
        { do: "cut", a: "north", b: "south" },
        { do: "cut", a: "south", b: "hall" },
      ],
    },
    {
      caption:
        "South: Chen proposes recalling Bruno; Chen, Dara and Emeka vote yes. Three of five: the mandate ends at the third vote.",
      actions: [
        { do: "recall", at: "south", as: "Chen", delegate: "Bruno", closesIn: 120, ref: "recall" },
        { do: "vote", at: "south", as: "Chen", proposal: "recall", choice: "yes" },
        { do: "vote", at: "south", as: "Dara", proposal: "recall", choice: "yes" },
        { do: "vote", at: "south", as: "Emeka", proposal: "recall", choice: "yes" },
      ],
    },
    {
      caption:
        "North: not knowing, Bruno votes no on the kitchen for the bakery. North and the hall see it failing 1–1.",
      actions: [{ do: "fed-vote", at: "north", as: "Bruno", proposal: "kitchen", position: "no" }],
    },
    {
      caption:
        "The line comes back: Bruno's vote came after his recall, so it is out of mandate and the kitchen passes.",
      actions: [{ do: "heal" }, { do: "settle" }],
    },
  ],
};
