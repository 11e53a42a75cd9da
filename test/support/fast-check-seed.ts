/**
 * Seeds every fast-check property of the run. The seed comes from the global setup (so
 * XENLAB_SEED=random picks one value for all workers); fast-check prints it, with the path of
 * the shrunk counterexample, in every failure message.
 */
import fc from 'fast-check';
import { inject } from 'vitest';

fc.configureGlobal({ seed: inject('seed'), numRuns: 100 });

declare module 'vitest' {
  export interface ProvidedContext {
    seed: number;
  }
}
