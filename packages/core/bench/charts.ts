/** What a benchmark draws: bar panels, rendered to SVG by the benchmark dispatcher next to its raw results. */

/** One bar: a system's value on one measure, with the text shown above it. */
export interface PanelBar {
  readonly label: string;
  readonly value: number;
  readonly note?: string;
}

/** A chart of bar panels (one panel per measure and size, one bar per system). */
export interface PanelChart {
  /** File name stem: `bench-results/<name>.svg`. */
  readonly name: string;
  readonly title: string;
  readonly subtitle: string;
  readonly panels: readonly { readonly title: string; readonly bars: readonly PanelBar[] }[];
  /** Panels per row (3 unless given). */
  readonly columns?: number;
}
