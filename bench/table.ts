/** The benchmark's rows and how they print: `what | ours | baseline | baseline/ours | note`. */
import { formatBytes } from "../src/cli/output.js";

export type Unit = "s" | "ms" | "bytes";

export interface Row {
  readonly part:
    | "boot"
    | "build"
    | "compose"
    | "footprint"
    | "accel"
    | "memory"
    | "copy"
    | "idle"
    | "service"
    | "emulation"
    | "first";
  readonly what: string;
  readonly ours: number | null;
  readonly baseline: number | null;
  readonly unit: Unit;
  /** What the baseline is, and anything a reader needs to trust the figure. */
  readonly note: string;
}

export function show(value: number | null, unit: Unit): string {
  if (value === null) return "—";
  if (unit === "s") return `${value.toFixed(2)} s`;
  if (unit === "ms") return `${value.toFixed(1)} ms`;
  return formatBytes(value);
}

/** baseline ÷ ours: for every row here less is better, so above 1 means ours is ahead by that much. */
export function ratio(row: Row): number | null {
  if (row.ours === null || row.baseline === null || row.ours === 0) return null;
  return row.baseline / row.ours;
}

export function formatTable(rows: readonly Row[]): string {
  const header = ["what", "ours", "baseline", "baseline/ours", "note"];
  const cells = rows.map((row) => {
    const r = ratio(row);
    return [
      row.what,
      show(row.ours, row.unit),
      show(row.baseline, row.unit),
      r === null ? "—" : `×${r.toFixed(2)}`,
      row.note,
    ];
  });
  // Pad every column but the last (notes are long) to its widest cell.
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: readonly string[]) =>
    `| ${c.map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w, i) => "-".repeat(i === widths.length - 1 ? 6 : w + 2)).join("|")}|`,
    ...cells.map(line),
  ].join("\n");
}
