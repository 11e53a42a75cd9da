/** `npm run x86:coverage`: rows with a differential generator over all rows, and those without one with the reason. */
import { formatCoverage } from './report.js';

process.stdout.write(`${formatCoverage()}\n`);
