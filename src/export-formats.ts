/** What `carbonledger export` writes, apart from the export itself so the CLI names it cheaply. */
export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The request was refused by the schema's validation: the caller's mistake, not ours. */
export class ExportInputError extends Error {
  override readonly name = 'ExportInputError';
}
