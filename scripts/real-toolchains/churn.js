// Node: objects, maps, strings, typed arrays, JSON, worker threads.
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
if (isMainThread) {
  const m = new Map();
  for (let i = 0; i < 200000; i++) m.set('k' + (i * 7919 % 100003), { i, s: String(i).repeat(i % 7) });
  const j = JSON.stringify([...m.entries()].slice(0, 20000));
  const back = JSON.parse(j);
  const bufs = [];
  for (let i = 0; i < 2000; i++) { bufs.push(Buffer.alloc(1 + (i * 37) % 70000, i & 255)); if (bufs.length > 200) bufs.shift(); }
  let done = 0, total = 0;
  for (let t = 0; t < 2; t++) {
    const w = new Worker(__filename, { workerData: t });
    w.on('message', (v) => { total += v; if (++done === 2) console.log(m.size, j.length, back.length, bufs.length, total); });
  }
} else {
  let a = [], s = 0;
  for (let i = 0; i < 100000; i++) { a.push({ i, v: 'y'.repeat(i % 40) }); if (a.length > 500) s += a.shift().v.length; }
  parentPort.postMessage(s + workerData);
}
