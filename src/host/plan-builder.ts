import { join } from "node:path";
import { fileContent, fileExists, type HostState } from "./host-state.js";
import { backupPath, markerPath, NIX_CONF_BLOCK, ourBlocks } from "./installed-paths.js";
import type { Step, WriteStep } from "./plan.js";

const FOLDER_MARKER_TEXT =
  "linux-builder install made this folder; linux-builder uninstall removes it once nothing else is in it.\n";

/** Steps and notes under construction, with what each file will hold once the steps so far are applied. */
export class PlanBuilder {
  readonly steps: Step[] = [];
  readonly notes: string[] = [];
  /** Paths the steps so far remove (files and folders). */
  private readonly removed = new Set<string>();

  constructor(private readonly state: HostState) {}

  willExist(path: string): boolean {
    if (this.removed.has(path)) return false;
    return (
      fileExists(this.state, path) ||
      this.steps.some((step) => (step.kind === "write" || step.kind === "mkdir") && step.path === path)
    );
  }

  /**
   * Writes a file whole. A file of the user's is copied to its backup first, once: before we first
   * touch it (afterwards it holds our blocks, and a backup would keep them).
   */
  write(path: string, next: string, mode: number, options: { touched: boolean; extra?: Partial<WriteStep> }) {
    const before = fileContent(this.state, path);
    if (next === before) return;
    const backup =
      fileExists(this.state, path) && !fileExists(this.state, backupPath(path)) && !options.touched
        ? backupPath(path)
        : undefined;
    this.steps.push({
      kind: "write",
      path,
      content: next,
      mode,
      ...(before === undefined ? {} : { before }),
      ...(backup ? { backup } : {}),
      ...options.extra,
    });
  }

  remove(path: string, options: { secret?: boolean } = {}) {
    const before = fileContent(this.state, path);
    this.steps.push({
      kind: "remove",
      path,
      ...(options.secret ? { secret: true } : before === undefined ? {} : { before }),
    });
    this.removed.add(path);
  }

  /** A file install wholly wrote goes; one it replaced comes back from its backup. */
  restoreOrRemove(path: string, options: { secret?: boolean } = {}) {
    if (!fileExists(this.state, path)) return;
    if (fileExists(this.state, backupPath(path))) {
      const before = options.secret ? undefined : fileContent(this.state, path);
      this.steps.push({
        kind: "restore",
        path,
        from: backupPath(path),
        ...(before === undefined ? {} : { before }),
      });
      this.removed.add(backupPath(path));
    } else this.remove(path, options);
  }

  /**
   * A shared file (machines, nix.conf) with `next` in place of its text. Once none of our blocks is
   * left, the file is as it was before install: a file install made (no backup) goes if nothing else
   * was written to it, and the backup goes too (it is what the file holds again, or older than the
   * user's own later edits).
   */
  unblock(path: string, next: string) {
    const current = fileContent(this.state, path);
    if (current === undefined) return;
    const backup = backupPath(path);
    const ours = ourBlocks(next).length > 0 || next.includes(`# BEGIN ${NIX_CONF_BLOCK}`);
    if (!ours && next === "" && !fileExists(this.state, backup)) {
      this.remove(path);
      return;
    }
    if (next !== current) this.write(path, next, 0o644, { touched: true });
    if (!ours && fileExists(this.state, backup)) this.remove(backup);
  }

  /**
   * Makes `folder` unless it exists; with `marker`, a file in it says install made it, so that
   * uninstall removes it again (a folder of the user's may be empty too).
   */
  ensureFolder(folder: string, mode: number, options: { marker: boolean }) {
    if (this.state.folders[folder] !== undefined || this.willExist(folder)) return;
    this.steps.push({ kind: "mkdir", path: folder, mode });
    if (options.marker) this.write(markerPath(folder), FOLDER_MARKER_TEXT, 0o644, { touched: true });
  }

  removeFolder(folder: string, options: { recursive: boolean }) {
    this.steps.push({ kind: "rmdir", path: folder, ...(options.recursive ? { recursive: true } : {}) });
    this.removed.add(folder);
  }

  /**
   * Once the last builder goes: a folder install made loses its marker, and goes too unless the steps
   * so far leave something else in it (something of the user's since: the folder is theirs now).
   */
  removeFolderIfOurs(folder: string) {
    const entries = this.state.folders[folder];
    const marker = markerPath(folder);
    if (entries === undefined || !fileExists(this.state, marker)) return;
    this.remove(marker);
    const left = entries.filter((name) => !this.removed.has(join(folder, name)));
    if (left.length === 0) this.removeFolder(folder, { recursive: false });
  }
}
