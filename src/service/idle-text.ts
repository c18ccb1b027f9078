/** The idle power-off setting in words, as serve's log and its first lines say it: "never", "after 10 min". */
export function idleText(idleMinutes: number): string {
  return idleMinutes === 0 ? "never" : `after ${idleMinutes} min`;
}
