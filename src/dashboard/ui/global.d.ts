// esbuild bundles imported stylesheets into the app's CSS file (scripts/build-dashboard.mjs).
declare module '*.css';
