/** Wall-clock and CPU time of a stretch of work: CPU time barely moves when other programs load the machine. */

/** Time spent, in milliseconds; `cpu` counts every thread of the process (crypto and GC helpers included). */
export interface Spent {
  readonly wall: number;
  readonly cpu: number;
}

/** Starts a stopwatch; calling the result reads the time spent since. */
export function stopwatch(): () => Spent {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(cpu);
    return { wall: performance.now() - wall, cpu: (d.user + d.system) / 1000 };
  };
}

/** The smallest of each measure over repeated runs (the run least disturbed by other work). */
export function best(samples: readonly Spent[]): Spent {
  return {
    wall: Math.min(...samples.map((s) => s.wall)),
    cpu: Math.min(...samples.map((s) => s.cpu)),
  };
}
