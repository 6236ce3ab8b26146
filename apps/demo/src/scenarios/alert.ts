/** A solidarity alert raised offline, answered when it arrives over a slow link: response times by record clocks. */
import type { Story } from "./story.js";

export const alert: Story = {
  id: "alert",
  title: "An eviction alert raised offline",
  summary:
    "The union hall is offline when an eviction notice arrives. Its alert reaches the shops three hours later over a slow link; the federation shows each council's response time, counted from the alert's own clock, against the 48-hour pledge.",
  steps: [
    {
      caption: "The union hall's computer is offline.",
      actions: [{ do: "offline", place: "hall" }],
    },
    {
      caption: "Hall: Farah raises an alert for the tenants' union.",
      actions: [
        {
          do: "alert",
          at: "hall",
          as: "Farah",
          what: "Eviction notice served at 12 Mill Street",
          needs: "People at the door on Monday at 7:00",
          ref: "eviction",
        },
      ],
    },
    {
      caption: "Three hours pass; the hall comes back on a slow link (120 ms per message).",
      actions: [
        { do: "advance", minutes: 180 },
        { do: "latency", place: "hall", ms: 120 },
        { do: "online", place: "hall" },
        { do: "settle" },
      ],
    },
    {
      caption:
        "North: Amara answers for the bakery. Its response time is counted from the alert's clock: a little over three hours.",
      actions: [
        {
          do: "respond",
          at: "north",
          as: "Amara",
          alert: "eviction",
          offer: "Ten bakers at the door, and bread for the picket",
        },
      ],
    },
    {
      caption: "The link speeds up again.",
      actions: [{ do: "latency", place: "hall", ms: 0 }, { do: "settle" }],
    },
  ],
};
