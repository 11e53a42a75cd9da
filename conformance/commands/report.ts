/**
 * `xenlab report merge`: combines the report.json files of a sharded conformance run
 * (`xenlab conformance --shard i/n` on each machine of a CI matrix) into the reports an unsharded
 * run writes (conformance/shard.ts), and prints the same one-screen summary. Exits 1 when the
 * merged run has a failure, like the run itself.
 */
import { defineCommand, defineGroup, type OptionTable } from '../../harness/cli/command.js';

interface MergeCli {
  reports: readonly string[];
  out?: string;
  format?: readonly string[];
}

const merge = defineCommand<MergeCli>({
  name: 'merge',
  describe: "Merge the report.json files of a sharded run ('xenlab conformance --shard i/n') into one set of reports",
  options: {
    reports: { type: 'array', positional: true, required: true, describe: 'report.json of each shard' },
    out: { type: 'string', describe: 'Directory for the merged reports', default: 'reports/out' },
    format: { type: 'array', describe: 'Report formats to write: tap, junit, json, html (default: all)' },
  } satisfies OptionTable<MergeCli>,
  async run(opts, io) {
    const { readFileSync } = await import('node:fs');
    const { UserError } = await import('../../harness/errors.js');
    const { mergeRecords, readRecord } = await import('../shard.js');
    const { reportFormats, writeReports } = await import('../write-reports.js');
    const { renderSummary } = await import('../summary.js');
    const formats = reportFormats(opts.format);
    const inputs = opts.reports.map((source) => {
      let text: string;
      try {
        text = readFileSync(source, 'utf8');
      } catch {
        throw new UserError('file-not-found', `${source}: cannot read the report`);
      }
      return { record: readRecord(text, source), source };
    });
    const record = mergeRecords(inputs);
    const written = writeReports(record, opts.out ?? 'reports/out', formats);
    io.stdout.write(renderSummary(record, written));
    return record.totals.failed === 0 && record.totals.guestsFailed === 0 ? 0 : 1;
  },
});

export default defineGroup({ name: 'report', describe: 'Work with conformance reports', subcommands: [merge] });
