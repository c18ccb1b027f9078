/** Seconds per phase of a run, each phase ending where the next begins. */
export class PhaseTimer {
  readonly timings: Record<string, number> = {};
  #started: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.#started = now();
  }

  /** Ends the phase `name` (in milliseconds of `now`, kept as seconds to the millisecond). */
  lap(name: string): void {
    const now = this.now();
    this.timings[name] = Math.round(now - this.#started) / 1000;
    this.#started = now;
  }
}
