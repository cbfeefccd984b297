/** What the benchmarks read of their processes from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system) used so far by each pid and, with `children`, by its direct children
 * too (PostgreSQL's backends under the postmaster).
 */
export function cpuSeconds(pids: number[], children = false): number {
  const ticks = (stat: string) => {
    // Fields after the command name, which is in parentheses and may contain spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) };
  };
  const wanted = new Set(pids);
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const t = ticks(stat);
    if (wanted.has(Number(entry)) || (children && wanted.has(t.ppid))) total += t.cpu;
  }
  // Linux reports in clock ticks, 100 per second on every common configuration.
  return total / 100;
}
