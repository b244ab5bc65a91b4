import { Manifest, openManifest } from '../src/state/manifest.js';
import { mkdtemp } from 'node:fs/promises';
import { createHash } from 'node:crypto';
const d = await mkdtemp('/tmp/mem-');
const N = 100_000;
{
  const m = await Manifest.open(d, { name: 'docs', root: '/x' });
  for (let i = 0; i < N; i++) {
    const p = `dir${i % 300}/sub${i % 7}/document-${i}.pdf`;
    m.set(p, { fileId: `file_011CN${createHash('md5').update(String(i)).digest('hex').slice(0, 20)}`, sha256: createHash('sha256').update(String(i)).digest('hex'), size: 1000 + i, mtimeMs: 1700000000000.123 + i, ino: 1000000 + i, remoteName: `document-${i}.pdf`, mimeType: 'application/pdf', uploadedAt: new Date(1700000000000 + i).toISOString() });
  }
  await m.close();
}
global.gc?.();
const before = process.memoryUsage();
let t = performance.now();
const r = await openManifest(d, 'docs');
console.log('open ms', (performance.now() - t).toFixed(0));
global.gc?.();
const after = process.memoryUsage();
console.log('heap MB for', r.size, ((after.heapUsed - before.heapUsed) / 1e6).toFixed(1), 'rss delta', ((after.rss - before.rss) / 1e6).toFixed(1), 'rss', (after.rss/1e6).toFixed(0));
t = performance.now();
const one = await openManifest(d, 'docs', { onlyPath: 'dir5/sub5/document-5.pdf' });
console.log('onlyPath ms', (performance.now() - t).toFixed(1), one.get('dir5/sub5/document-5.pdf')?.fileId);
t = performance.now();
const w = await Manifest.open(d, { name: 'docs', root: '/x' });
console.log('writer open ms', (performance.now() - t).toFixed(0));
t = performance.now();
w.set('dir5/sub5/document-5.pdf', { ...w.get('dir5/sub5/document-5.pdf')!, size: 5 });
await w.flush();
console.log('append ms', (performance.now() - t).toFixed(1));
t = performance.now();
await w.snapshot();
console.log('snapshot ms', (performance.now() - t).toFixed(1));
await w.close();
