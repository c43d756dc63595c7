import { planSiteLayers } from '../pipeline/oci/site-layers.js';
import { writeLayer } from '../pipeline/oci/tar-layer.js';

const out = '/tmp/sitepipe-bench-Cc6fFz/state-oci/public';
let t = performance.now();
const layers = await planSiteLayers({
  outputDir: out,
  siteRoot: '/usr/share/nginx/html',
  mtime: new Date(),
  extraFiles: [],
});
console.log('plan', Math.round(performance.now() - t));
for (const l of layers.filter((x) => !x.media)) {
  t = performance.now();
  await writeLayer(l.entries, '/tmp/x.tgz', l);
  console.log(l.name, Math.round(performance.now() - t));
}
