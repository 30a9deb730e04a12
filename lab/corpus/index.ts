/** The lab's default training text (Node only: read from the repository, see SOURCE.md). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Path of the shipped corpus (from build/lab/corpus/ back to the source tree's lab/corpus/). */
export const DEFAULT_CORPUS_PATH = fileURLToPath(new URL("../../../lab/corpus/moby-dick.txt", import.meta.url));

export function loadDefaultCorpus(): { name: string; text: string } {
  return { name: "Moby-Dick (Herman Melville, public domain; lab/corpus/moby-dick.txt)", text: readFileSync(DEFAULT_CORPUS_PATH, "utf8") };
}
