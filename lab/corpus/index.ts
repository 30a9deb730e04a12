/**
 * PLACEHOLDER so the front end compiles before the corpus lands: the `labcore` branch's real
 * lab/corpus/index.ts (embedded, freely licensed corpus) replaces this file at merge. Keep the signature.
 */
export function loadDefaultCorpus(): { text: string; name: string } {
  return { text: "", name: "placeholder (no default corpus on this branch yet)" };
}
