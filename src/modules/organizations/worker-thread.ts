import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running the module `name` ("./import.worker") beside `callerUrl`. Built, the
 * worker is plain JavaScript; from the sources, tsx's loader must be registered in the worker's own
 * thread before the TypeScript entry can load.
 */
export function moduleWorker(callerUrl: string, name: string, options: WorkerOptions): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`${name}.js`, callerUrl), options);
  const entry = new URL(`${name}.ts`, callerUrl).href;
  return new Worker(
    `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`,
    { ...options, eval: true },
  );
}
