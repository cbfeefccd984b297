/**
 * Runs `step` until stopped; after a step that found no more work, waits `pollMs` or until woken
 * through the function it hands to `setWake`. A step that throws is reported and the loop goes on.
 */
export async function pollLoop(
  pollMs: number,
  onError: (err: unknown) => void,
  stopped: () => boolean,
  setWake: (wake: (() => void) | undefined) => void,
  step: () => Promise<boolean>,
): Promise<void> {
  while (!stopped()) {
    let more = false;
    try {
      more = await step();
    } catch (err) {
      onError(err);
    }
    if (stopped()) break;
    if (!more) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          setWake(undefined);
          resolve();
        };
        const timer = setTimeout(done, pollMs);
        setWake(done);
      });
    }
  }
}
