import { EsperError } from '../errors.js';

/** No usable HMAC secret was given (absent, empty or blank `ESPER_LEYLINE_SECRET`). */
export class SigningSecretMissingError extends EsperError<'ESPER_SECURITY_SECRET_MISSING'> {
  constructor(source: string) {
    super(
      'ESPER_SECURITY_SECRET_MISSING',
      `No Leyline signing secret: ${source}. Set the environment variable ESPER_LEYLINE_SECRET to a non-blank shared secret ` +
        `(the same value in every process that signs or verifies), or set security.leylineSecret in the Esper config.`,
    );
  }
}

/** Security options that cannot work together (for example a nonce window shorter than the freshness window). */
export class SecurityConfigError extends EsperError<'ESPER_SECURITY_CONFIG_INVALID'> {
  constructor(message: string) {
    super('ESPER_SECURITY_CONFIG_INVALID', message);
  }
}
