/** The lab's default training text (Node only: read from the repository, see SOURCE.md). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Path of the shipped corpus (from build/lab/corpus/ back to the source tree's lab/corpus/). */
export const DEFAULT_CORPUS_PATH = fileURLToPath(new URL("../../../lab/corpus/moby-dick.txt", import.meta.url));

/** Name to show for the default corpus (ctx.corpusName). */
export const DEFAULT_CORPUS_NAME = "Moby-Dick by Herman Melville (public domain; lab/corpus/moby-dick.txt)";

/** The default corpus text (ctx.corpus when no --corpus FILE is given). */
export function loadDefaultCorpus(): string {
  return readFileSync(DEFAULT_CORPUS_PATH, "utf8");
}
