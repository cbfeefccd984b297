/**
 * The SQL function organization_search_key() (migration 0015) in TypeScript, so the in-process
 * directory index normalises a typed query exactly as the stored names were: lower case; "&" read
 * as " and "; the common accents folded and apostrophes dropped (translate()); any other run of
 * characters outside a-z and 0-9 one space; spaces trimmed at both ends. The index takes the names'
 * keys from the database's stored search_key, so only queries go through this copy.
 *
 * PostgreSQL's lower() follows the database's LC_CTYPE: under the C locale (almoner's embedded and
 * test clusters) it lowers ASCII letters only, so an upper-case "É" becomes a space, while a UTF-8
 * locale would fold it to "e". This copy lowers ASCII only, like the C locale. Queries reach it
 * already lower-cased (as they reached the SQL function before), so the difference never shows
 * for them; a unit test checks the two agree on real names.
 */

const ACCENTED = 'áàâäãåçéèêëíìîïñóòôöõøúùûüýÿ';
const FOLDED = 'aaaaaaceeeeiiiinoooooouuuuyy';
const FOLD = new Map([...ACCENTED].map((c, i) => [c, FOLDED[i]!]));

export function organizationSearchKey(text: string): string {
  let out = '';
  // A separator is written only before the next word: runs collapse and the ends stay trimmed.
  let separate = false;
  const append = (chars: string) => {
    if (separate && out.length > 0) out += ' ';
    separate = false;
    out += chars;
  };
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) append(ch);
    else if (c >= 65 && c <= 90) append(String.fromCharCode(c + 32));
    else if (ch === '&') {
      separate = true;
      append('and');
      separate = true;
    } else if (ch === "'" || ch === '’') continue;
    else {
      const folded = FOLD.get(ch);
      if (folded) append(folded);
      else separate = true;
    }
  }
  return out;
}
