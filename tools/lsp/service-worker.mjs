// Entry point of the language service's worker thread (see supervisor.ts). Plain JavaScript
// because a worker starts without the parent's loaders: it registers tsx, then loads the
// TypeScript service.
import { register } from "tsx/esm/api";

register();
await import("./service-worker.ts");
