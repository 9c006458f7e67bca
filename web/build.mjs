// Bundles MapLibre GL JS (from the npm registry) and the app into web/dist: app.js + app.css.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: 'dist',
  legalComments: 'eof',
  logLevel: 'info',
});

// Leaflet for `sdi map export`: inlined into the static maps so they open without a CDN
mkdirSync('dist/leaflet', { recursive: true });
for (const f of ['leaflet.js', 'leaflet.css', 'LICENSE']) {
  copyFileSync(`node_modules/leaflet/${f === 'LICENSE' ? '' : 'dist/'}${f}`, `dist/leaflet/${f}`);
}
