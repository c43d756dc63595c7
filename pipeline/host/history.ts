import type { Release } from '../kube/releases.js';

/** Enough history to pin back weeks of pushes; the same as the Kubernetes target keeps. */
export const HISTORY_KEEP = 100;

/** The history as a server stores it; a missing or garbled file is an empty history. */
export function parseHistory(text: string): Release[] {
  if (text.trim() === '') return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? (parsed as Release[]) : [];
  } catch {
    return [];
  }
}

/** The history with `release` prepended (newest first), as it is written back. */
export function withRelease(history: readonly Release[], release: Release): Release[] {
  return [release, ...history].slice(0, HISTORY_KEEP);
}

/**
 * The releases to keep on a server after a switch: the live one, then the newest `keep` others
 * the history names as live (what `rollback` and `pin` go back to). Everything else under
 * releases/ is removed, partial uploads of dead runs included.
 */
export function releasesToKeep(history: readonly Release[], live: string, keep: number): Set<string> {
  const kept = new Set([live]);
  for (const r of history) {
    if (kept.size > keep) break;
    if (r.outcome === 'live' && r.digest) kept.add(r.digest);
  }
  return kept;
}
