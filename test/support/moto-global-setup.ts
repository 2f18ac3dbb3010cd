import type { ProvidedContext } from 'vitest';
import type { TestProject } from 'vitest/node';
import { startMoto } from '../../functions/drill/emulator';

export type { ProvidedContext };

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

/** One moto server for the whole integration run: started on a free port, stopped by its PID at the end. */
export default async function setup(project: TestProject) {
  const moto = await startMoto();
  project.provide('motoEndpoint', moto.endpoint);
  return async () => {
    await moto.stop();
  };
}
