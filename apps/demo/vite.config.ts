/** Vite's configuration for the demo: React, and Automerge's WebAssembly loaded as an ES module. */
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import wasmModule from "vite-plugin-wasm";

// The package's ESM typings are read as CommonJS under NodeNext; at runtime the default import is the plugin itself.
const wasm = wasmModule as unknown as typeof wasmModule.default;

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset paths: the build works from any folder of any static web server.
  base: "./",
  plugins: [wasm(), react()],
  build: { target: "esnext", outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 4096 },
  worker: { format: "es", plugins: () => [wasm()] },
});
