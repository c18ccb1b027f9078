import { parseMachines } from "../../nix/machines-file.js";
import type { FileText } from "../doctor/file-text.js";
import type { MachinesFiles } from "../doctor/machines.js";
import type { Host } from "../host.js";
import { readFileText } from "./files.js";

/** The machines file and the files its `@` lines name (as Nix reads them, a few levels deep). */
export async function readMachinesFiles(host: Pick<Host, "uid">, path: string): Promise<MachinesFiles> {
  const files: { path: string; content: FileText }[] = [];
  const visit = async (file: string, depth: number) => {
    if (depth > 4 || files.some((f) => f.path === file)) return;
    const content = await readFileText(host, file);
    files.push({ path: file, content });
    if (content.kind !== "text") return;
    for (const include of parseMachines(content.text).includes) await visit(include.path, depth + 1);
  };
  await visit(path, 0);
  return { path, files };
}
