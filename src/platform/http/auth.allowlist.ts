import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** A partner's IP allowlist: entries as the partner API takes them, parsed once, checked per request. */

export function parseAllowlist(entries: string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/');
    if (!addr) continue;
    const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export function isValidAllowlistEntry(entry: string): boolean {
  const [addr, bits, extra] = entry.split('/');
  if (!addr || extra !== undefined) return false;
  const v4 = isIPv4(addr);
  const v6 = isIPv6(addr);
  if (!v4 && !v6) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (v4 ? 32 : 128);
}

export function ipAllowed(list: BlockList | null, ip: string): boolean {
  if (!list) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return list.check(mapped[1]!, 'ipv4') || list.check(ip, 'ipv6');
  return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}
