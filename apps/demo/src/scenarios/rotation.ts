/** Two facilitators picked offline for the same meeting: the first in record order holds the role, the other is flagged. */
import type { Story } from "./story.js";

const MEETING = "General assembly, 8 March";

export const rotation: Story = {
  id: "rotation",
  title: "Two facilitators picked offline",
  summary:
    "Each shop picks a facilitator for the same assembly while apart. After the merge the earlier pick holds the role everywhere and the other is shown as a rotation conflict; time swaps from both sides still sum to zero.",
  steps: [
    {
      caption: "The shops lose their line to each other; the union hall goes offline too.",
      actions: [
        { do: "cut", a: "north", b: "south" },
        { do: "offline", place: "hall" },
      ],
    },
    {
      caption: `North: Bruno asks Chen to facilitate the ${MEETING}; Chen covered Bruno's early shift (4 hours).`,
      actions: [
        { do: "assign", at: "north", as: "Bruno", meeting: MEETING, role: "facilitator", holder: "Chen" },
        {
          do: "swap",
          at: "north",
          as: "Bruno",
          fund: "time-bank",
          provider: "Chen",
          minutes: 240,
          note: "Covered the early shift",
        },
      ],
    },
    {
      caption: "South: Emeka asks Dara to facilitate the same assembly; Dara fixed Emeka's proving oven (1h30).",
      actions: [
        { do: "assign", at: "south", as: "Emeka", meeting: MEETING, role: "facilitator", holder: "Dara" },
        {
          do: "swap",
          at: "south",
          as: "Emeka",
          fund: "time-bank",
          provider: "Dara",
          minutes: 90,
          note: "Fixed the proving oven",
        },
      ],
    },
    {
      caption:
        "Everything reconnects: Chen (picked first) facilitates, Dara's pick is a rotation conflict for the assembly to settle.",
      actions: [{ do: "heal" }, { do: "settle" }],
    },
  ],
};
