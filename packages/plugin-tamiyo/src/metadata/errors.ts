import { EsperError } from '@esper/core';

/**
 * A blueprint metadata file (`tamiyo.gnn.blueprintMetadataPath`) cannot be used: it is missing or
 * unreadable, not JSON/NDJSON, or a record does not match the schema (the message names the
 * file, the record and the field). Thrown when the file is opened; a later reload that fails
 * keeps the last good records and reports this error instead.
 */
export class BlueprintMetadataFileError extends EsperError<'ESPER_TAMIYO_BLUEPRINT_METADATA_FILE'> {
  constructor(
    /** The file. */
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ESPER_TAMIYO_BLUEPRINT_METADATA_FILE',
      `Blueprint metadata file ${path}: ${detail}. ` +
        'Write it as JSON ({"blueprints": [records]}) or NDJSON (one record per line) with the fields of docs/decisions/0065, or unset tamiyo.gnn.blueprintMetadataPath.',
      options,
    );
  }
}
