// The compute thread run from source (development, under tsx): a worker does not inherit tsx's loader, so it
// registers it before loading the TypeScript worker (compute-thread.ts).
import { register } from 'tsx/esm/api';

register();
await import('./compute-worker.ts');
