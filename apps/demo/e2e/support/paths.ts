/** Where the demo and the repository are on disk. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const DEMO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REPO_ROOT = join(DEMO_ROOT, "..", "..");
export const ARTIFACTS = join(REPO_ROOT, "test-artifacts");
