/** The core's CPUID model lives in x86/cpuid.ts; the runner and the bare machine import it from here too. */
export { CpuidModel, implementedFeatures, VENDOR } from '../../x86/cpuid.js';
