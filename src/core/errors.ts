// Errors a user can act on: each names the file (or thing) at fault and what to do about it.
// The CLI and the extension print `message` alone, never a stack trace.

export class UserError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
