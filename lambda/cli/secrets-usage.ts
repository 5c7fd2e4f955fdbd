/** Help text of `mailfetch secrets`. */

export const SECRETS_USAGE = `Usage: mailfetch secrets <subcommand> [options] [registry options]

Credentials sealed in the registry: AES-256-GCM under a data key kept in the state table,
itself encrypted by the credentials KMS key (stack output CredentialsKeyArn). A sealed
value opens only for the mailbox and field it was sealed for. No per-secret fee, no
per-run API call.

Subcommands:
  seal --mailbox ID [--field F]
                        read one credential from standard input (prompted for, without
                        echo, on a terminal) and print {"sealed": "..."} for a configuration
                        file. F: password (default), clientSecret, refreshToken;
                        clientCertificate or clientKey: the whole PEM file (< FILE)
  rotate-key [--reseal] add a data key version: new credentials are sealed with it, older
                        ones keep opening. --reseal seals every registered credential again
                        with the new version

To seal straight into the registry instead:
  mailfetch mailboxes add --config box.json --mailbox ID --password-stdin < password.txt
  mailfetch mailboxes update --mailbox ID --password-stdin < new-password.txt
  mailfetch mailboxes update --mailbox ID --client-certificate cert.pem --client-key key.pem

Options:
  -m, --mailbox ID      the mailbox the credential is for
  -f, --field F         password, clientSecret, refreshToken, clientCertificate or clientKey
      --json            JSON lines on stdout
  -v, --verbose         debug logs on stderr
  -h, --help            this help

Registry options (where the table and its data keys are):
  --local DIR           the embedded servers under DIR (default ./.mailfetch), with their own key
  --table NAME          the DynamoDB state table (default: env MAILFETCH_TABLE)
  --credentials-key KEY the KMS key (ARN) that encrypts the data keys (default: env
                        MAILFETCH_CREDENTIALS_KEY, the stack output CredentialsKeyArn);
                        needed to create a data key, not to use an existing one
  --create-missing      create the table when it does not exist (with --table)

Exit codes: 0 success, 1 KMS or DynamoDB refused or failed (its code is printed),
2 usage error.
`;
