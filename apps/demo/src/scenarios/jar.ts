/** A commons-jar round across a partition: each side closes the round alone, the merge shares the jar out again. */
import type { Story } from "./story.js";

export const jar: Story = {
  id: "jar",
  title: "A commons-jar round across a partition",
  summary:
    "A round of the commons jar runs while the shops are apart. Each side closes it with only its own requests; after the merge the jar is shared out again by everyone's dots and still ends at exactly zero.",
  steps: [
    {
      caption:
        "Amara proposes a round of the commons jar (60.00 in it); everyone votes yes; the round opens ten minutes later.",
      actions: [
        {
          do: "jar-round",
          at: "north",
          as: "Amara",
          jar: "commons-jar",
          closesIn: 10,
          roundCloses: 90,
          remainderTo: "strike-fund",
          ref: "round",
        },
        { do: "vote", at: "north", as: "Amara", proposal: "round", choice: "yes" },
        { do: "vote", at: "north", as: "Bruno", proposal: "round", choice: "yes" },
        { do: "vote", at: "north", as: "Chen", proposal: "round", choice: "yes" },
        { do: "vote", at: "north", as: "Dara", proposal: "round", choice: "yes" },
        { do: "advance", minutes: 11 },
        { do: "tick", at: "north", as: "Amara" },
        { do: "settle" },
      ],
    },
    {
      caption: "The south shop's line goes down.",
      actions: [
        { do: "cut", a: "north", b: "south" },
        { do: "cut", a: "south", b: "hall" },
      ],
    },
    {
      caption: "North: Bruno adds 20.00; Chen asks 60.00 to repair the oven; Amara and Bruno put all their dots on it.",
      actions: [
        { do: "contribute", at: "north", as: "Bruno", jar: "commons-jar", amount: 2_000 },
        {
          do: "request",
          at: "north",
          as: "Chen",
          jar: "commons-jar",
          amount: 6_000,
          purpose: "Oven repair",
          ref: "oven",
        },
        { do: "dots", at: "north", as: "Amara", jar: "commons-jar", dots: { oven: 6 } },
        { do: "dots", at: "north", as: "Bruno", jar: "commons-jar", dots: { oven: 4 } },
      ],
    },
    {
      caption: "South: Dara adds 15.00; Emeka asks 50.00 for the kids' lunch club; Dara and Emeka dot it.",
      actions: [
        { do: "contribute", at: "south", as: "Dara", jar: "commons-jar", amount: 1_500 },
        {
          do: "request",
          at: "south",
          as: "Emeka",
          jar: "commons-jar",
          amount: 5_000,
          purpose: "Kids' lunch club",
          ref: "lunch",
        },
        { do: "dots", at: "south", as: "Dara", jar: "commons-jar", dots: { lunch: 6 } },
        { do: "dots", at: "south", as: "Emeka", jar: "commons-jar", dots: { lunch: 6 } },
      ],
    },
    {
      caption: "The round's time is up. Each side closes it with what it sees: each funds only its own request.",
      actions: [
        { do: "advance", minutes: 90 },
        { do: "tick", at: "north", as: "Amara" },
        { do: "tick", at: "south", as: "Dara" },
      ],
    },
    {
      caption:
        "The line comes back: the lunch club (12 dots) is paid 50.00 first, the oven gets the 45.00 left, the jar ends at zero.",
      actions: [{ do: "heal" }, { do: "settle" }],
    },
  ],
};
