/** The CredentialError a promise rejects with (the test fails if it resolves, or rejects with anything else). */
import { expect } from 'vitest';
import { CredentialError } from '../../lambda/credentials/credential-error';

export async function failure(promise: Promise<unknown>): Promise<CredentialError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CredentialError);
  return err as CredentialError;
}
