/**
 * Awaits a macrotask every `every` calls. A long property run that never yields starves the test
 * worker's event loop, over which vitest talks to its workers: on a busy machine the worker then
 * reports `Timeout calling "onTaskUpdate"` and the run fails although every test passed. Properties
 * run as fc.asyncProperty and call the returned function first thing in every run.
 */
export const breather = (every = 100) => {
  let calls = 0;
  return async (): Promise<void> => {
    calls++;
    if (calls % every === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  };
};
