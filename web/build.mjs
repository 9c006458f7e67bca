// Bundles MapLibre GL JS (from the npm registry) and the app into ../web/dist: app.js + app.css.
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
