import { describe, expect, it } from 'vitest';
import { defaultProvider, environmentCredentials, LambdaCredentialsMissingError } from '../../lambda/credentials/lambda-environment-credentials';

describe('the Lambda bundles\' credential provider', () => {
  it('reads the role credentials the Lambda runtime puts in the environment', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token', AWS_CREDENTIAL_EXPIRATION: '2026-12-06T10:00:00Z' };
    expect(await environmentCredentials(env)).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
      expiration: new Date('2026-12-06T10:00:00Z'),
    });
    expect(await environmentCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_CREDENTIAL_EXPIRATION: 'soon' })).toEqual({ accessKeyId: 'a', secretAccessKey: 'b' });
  });

  it('names the missing variables without echoing any value', async () => {
    const failure = environmentCredentials({ AWS_ACCESS_KEY_ID: 'AKIDLEAKCHECK' });
    await expect(failure).rejects.toBeInstanceOf(LambdaCredentialsMissingError);
    await expect(failure).rejects.toThrow(/AWS_SECRET_ACCESS_KEY/);
    await expect(failure).rejects.not.toThrow(/AKIDLEAKCHECK/);
  });

  it('reads the environment each time it is asked, as the SDK\'s defaultProvider does for refreshed credentials', async () => {
    const saved = { ...process.env };
    try {
      const provider = defaultProvider({});
      process.env.AWS_ACCESS_KEY_ID = 'first';
      process.env.AWS_SECRET_ACCESS_KEY = 's';
      expect((await provider()).accessKeyId).toBe('first');
      process.env.AWS_ACCESS_KEY_ID = 'second';
      expect((await provider()).accessKeyId).toBe('second');
    } finally {
      process.env = saved;
    }
  });
});
