// Event-loop responsiveness: the longest gap between the ticks of an interval timer while work
// runs (the batch benchmark and tests). A blocked loop shows as one long gap.
export function watchTimerGaps(intervalMs = 20): { stop(): { maxGapMs: number; ticks: number } } {
  let last = performance.now();
  let maxGapMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      // The time since the last tick counts too: a loop blocked until the end is a gap.
      return { maxGapMs: Math.max(maxGapMs, performance.now() - last), ticks };
    },
  };
}
