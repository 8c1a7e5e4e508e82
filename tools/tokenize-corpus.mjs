// Builds the default model's training corpus: selected Debian fortune files, GPT-2 token ids.
// Not a general tokenizer; it only writes ids (uint16 little-endian) for tools/train-default-model.py.
//
// usage: node tools/tokenize-corpus.mjs <fortunes-dir> <out.bin> <file> [file...]
// Each fortune (entries are separated by a line holding only "%") becomes one document,
// documents are joined by <|endoftext|> (50256) so the model learns where a saying ends.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';

const [dir, out, ...files] = process.argv.slice(2);
if (!dir || !out || files.length === 0) {
  console.error('usage: node tools/tokenize-corpus.mjs <fortunes-dir> <out.bin> <file> [file...]');
  process.exit(2);
}

// r50k_base is byte-identical to the GPT-2 vocabulary and merges.
const enc = getEncoding('r50k_base');
const EOT = 50256;
const ids = [];
let docs = 0;
for (const name of files) {
  const text = readFileSync(join(dir, name), 'latin1');
  // Read as latin-1 so every byte survives as one character. The selected files are ASCII except
  // 8 lines holding UTF-8 sequences (which become two or three latin-1 characters each), and some
  // entries underline with backspaces; both are too rare to matter and are kept for reproducibility.
  for (const raw of text.split(/\n%\n/)) {
    // Fortunes are hand-wrapped at ~72 columns with tab indents for attributions; keep the
    // line structure (it is what the model should reproduce) but normalise tabs.
    const doc = raw.replace(/\t/g, '    ').replace(/^%\n?/, '').trim();
    if (doc.length < 8) continue;
    for (const id of enc.encode(doc)) ids.push(id);
    ids.push(EOT);
    docs++;
  }
}
const buf = Buffer.alloc(ids.length * 2);
ids.forEach((id, i) => buf.writeUInt16LE(id, i * 2));
writeFileSync(out, buf);
console.log(JSON.stringify({ files, documents: docs, tokens: ids.length }));
