#!/usr/bin/env node
// The `federa` executable: runs the TypeScript sources through tsx (workspace packages resolve to their src/).
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
