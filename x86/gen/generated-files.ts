/**
 * The generated files and how each is produced from ROWS, shared by `npm run gen`,
 * `npm run gen:check` and the staleness test (test/x86/table.test.ts).
 */
// The decoder must be the entry into the table's import cycle (table -> rows -> exec -> decoder,
// which reads ROWS at load); importing the table first would leave ROWS uninitialised there.
import '../decoder.js';
import { ROWS } from '../isa/table.js';
import { cpuidFeaturesModule } from './cpuid-features.js';
import { opcodeMapReport } from './opcode-map.js';

export interface GeneratedFile {
  /** Path from the repository root. */
  readonly path: string;
  readonly render: () => string;
}

export const GENERATED_FILES: readonly GeneratedFile[] = [
  { path: 'x86/gen/generated/opcode-map.md', render: () => opcodeMapReport(ROWS) },
  { path: 'x86/gen/generated/cpuid-features.ts', render: () => cpuidFeaturesModule(ROWS) },
];
