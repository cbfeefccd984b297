/**
 * Changes this process makes to the directory, announced once they are committed, so whatever
 * keeps answers or an index of the directory in memory drops or rebuilds it at once. Changes made
 * by other processes (an `almoner orgs import`) are not announced here: the directory index
 * learns of them from organization_directory_version (migration 0022).
 */

let changes = 0;
const listeners = new Set<() => void>();

/** Called by whatever writes the directory in this process, after its transaction commits. */
export function directoryChanged(): void {
  changes++;
  for (const listener of listeners) listener();
}

/** How many changes this process has announced: a generation number for what depends on them. */
export function localDirectoryChanges(): number {
  return changes;
}

/** Calls `listener` after each announced change; returns the function that stops it. */
export function onDirectoryChanged(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
