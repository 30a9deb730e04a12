/**
 * A Node built-in the pool needs at run time (worker_threads, os), imported so that no bundler
 * resolves it in a browser build. A `const` specifier is not enough: Vite 8 (Rolldown) folds it,
 * then externalizes the module with one warning per import (3 in a `vite build` of a page).
 */
export function importNode<T>(name: "worker_threads" | "os"): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ `node:${name}`) as Promise<T>;
}
