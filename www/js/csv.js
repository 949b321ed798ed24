// Reads a small labelled text set: CSV or TSV with a text column and a label
// column (a header row is optional and recognised by its names).

/** Splits CSV text into rows of fields (RFC 4180 quoting). */
function parseDelimited(text, sep) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === sep) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new Error('a quoted field is not closed');
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f.trim() !== ''));
}

const TEXT_NAMES = ['text', 'sentence', 'review', 'content'];
const LABEL_NAMES = ['label', 'labels', 'class', 'target'];

/**
 * Returns {texts, labels (class ids), classes (names by id), counts, header:
 * {text, label} column names or null, separator}.
 * Throws an Error that says which line is wrong.
 */
export function parseLabelled(text) {
  const sep = text.split('\n', 1)[0].includes('\t') ? '\t' : ',';
  const rows = parseDelimited(text, sep);
  if (!rows.length) throw new Error('the data is empty');
  let textCol = 0;
  let labelCol = 1;
  let start = 0;
  const head = rows[0].map((f) => f.trim().toLowerCase());
  const t = head.findIndex((f) => TEXT_NAMES.includes(f));
  const l = head.findIndex((f) => LABEL_NAMES.includes(f));
  let header = null;
  if (t >= 0 && l >= 0) {
    textCol = t;
    labelCol = l;
    start = 1;
    header = { text: rows[0][t].trim(), label: rows[0][l].trim() };
  }
  const texts = [];
  const raw = [];
  for (let i = start; i < rows.length; i++) {
    const r = rows[i];
    if (r.length <= Math.max(textCol, labelCol)) {
      throw new Error(`line ${i + 1} has ${r.length} field(s); expected a text and a label`);
    }
    const body = r[textCol].trim();
    const label = r[labelCol].trim();
    if (!body) throw new Error(`line ${i + 1} has an empty text`);
    if (!label) throw new Error(`line ${i + 1} has an empty label`);
    texts.push(body);
    raw.push(label);
  }
  if (texts.length < 8) throw new Error(`only ${texts.length} rows; a search needs at least 8`);
  // Classes are numbered in sorted order (numerically when every label is a
  // number), so labels 0/1 keep their meaning.
  const distinct = [...new Set(raw)];
  const numeric = distinct.every((x) => /^-?\d+$/.test(x));
  const classes = numeric ? distinct.sort((a, b) => Number(a) - Number(b)) : distinct.sort();
  if (classes.length < 2) throw new Error(`every row has the label "${classes[0]}"; a classification task needs two classes or more`);
  const id = new Map(classes.map((c, i) => [c, i]));
  const labels = raw.map((x) => id.get(x));
  const counts = classes.map((_, i) => labels.filter((x) => x === i).length);
  return { texts, labels, classes, counts, header, separator: sep };
}
