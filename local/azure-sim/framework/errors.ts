/**
 * The one error type of the simulator. Handlers throw it; the error middleware turns it into the
 * ARM error envelope `{ error: { code, message, details? } }` with the HTTP status, as ARM does.
 */
export interface ArmErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export class ArmError extends Error {
  override readonly name = 'ArmError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ArmErrorDetail[] = [],
    /** Extra response headers, e.g. Retry-After on 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static badRequest(code: string, message: string, details?: ArmErrorDetail[]): ArmError {
    return new ArmError(400, code, message, details);
  }

  static missingApiVersion(): ArmError {
    return new ArmError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }

  static unsupportedApiVersion(version: string, resourceType: string, supported: string[]): ArmError {
    return new ArmError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for API version '${version}' and type '${resourceType}'. The supported api-versions are '${supported.join(', ')}'.`,
    );
  }

  static invalidRequestContent(message: string): ArmError {
    return new ArmError(
      400,
      'InvalidRequestContent',
      `The request content was invalid and could not be deserialized: '${message}'.`,
    );
  }

  static unauthorized(code: string, message: string, headers: Record<string, string>): ArmError {
    return new ArmError(401, code, message, [], headers);
  }

  static notFound(resourceType: string, name: string, resourceGroup?: string): ArmError {
    const where = resourceGroup === undefined ? '' : ` under resource group '${resourceGroup}'`;
    return new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${resourceType}/${name}'${where} was not found.`,
    );
  }

  static resourceGroupNotFound(name: string): ArmError {
    return new ArmError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
  }

  static invalidResourceType(path: string): ArmError {
    return new ArmError(
      404,
      'InvalidResourceType',
      `The resource type could not be found for the path '${path}'.`,
    );
  }

  static conflict(code: string, message: string): ArmError {
    return new ArmError(409, code, message);
  }

  static throttled(retryAfterSeconds: number, headers: Record<string, string> = {}): ArmError {
    return new ArmError(
      429,
      'TooManyRequests',
      `The request is being throttled. Retry after ${retryAfterSeconds} seconds.`,
      [],
      { ...headers, 'retry-after': String(retryAfterSeconds) },
    );
  }

  static internal(message = 'The server encountered an internal error. Please retry the request.'): ArmError {
    return new ArmError(500, 'InternalServerError', message);
  }

  static unavailable(retryAfterSeconds: number, headers: Record<string, string> = {}): ArmError {
    return new ArmError(
      503,
      'ServiceUnavailable',
      'The service is temporarily unavailable. Please retry the request.',
      [],
      { ...headers, 'retry-after': String(retryAfterSeconds) },
    );
  }

  /** The ARM error envelope, also used as the `error` of a failed long-running operation. */
  toBody(): { error: { code: string; message: string; details?: ArmErrorDetail[] } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details.length > 0 ? { details: this.details } : {}),
      },
    };
  }
}
