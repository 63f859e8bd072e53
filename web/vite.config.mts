import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webDir = fileURLToPath(new URL('.', import.meta.url));

/**
 * The dashboard's build: web/ into dist/web, where src/http/dashboard.ts serves it from. Preact
 * stands in for React (Apollo Client's hooks import `react`): the same API at a tenth of the size.
 */
export default defineConfig({
  root: webDir,
  // Relative asset URLs keep the page working behind a proxy that mounts the service under a path.
  base: './',
  logLevel: 'warn',
  resolve: {
    alias: {
      react: 'preact/compat',
      'react-dom': 'preact/compat',
      'react/jsx-runtime': 'preact/jsx-runtime',
    },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'dashboard',
    // The polyfill is an inline script, which the page's Content-Security-Policy refuses.
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
  },
});
