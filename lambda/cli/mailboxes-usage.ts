/** Help text of `mailfetch mailboxes`. */

export const MAILBOXES_USAGE = `Usage: mailfetch mailboxes <subcommand> [options] [registry options]

The mailbox registry: the mailboxes the deployed worker runs, their configuration and
their health. The worker takes only a mailbox id; everything else comes from here.

Subcommands:
  add     --config FILE [--mailbox ID] [--disabled] [--password-stdin]
                        register the file's mailboxes (or those named); an id that is
                        already registered is refused. --disabled: added but not run
                        until enabled (baseline it first to skip its old mail)
  update  --config FILE [--mailbox ID]
                        replace the configuration of registered mailboxes with the file's;
                        enabled and health stay
  update  --mailbox ID --password-stdin
                        replace only the credential of a registered mailbox (sealed);
                        likewise --client-certificate FILE --client-key FILE
  remove  --mailbox ID  unregister (repeatable); the mailbox's state stays ('mailfetch
                        reset' forgets it)
  enable  --mailbox ID  let the worker run it (repeatable)
  disable --mailbox ID  the worker refuses it (repeatable)
  list                  id, enabled, host, schedule
  status                health, worst first: failing, never succeeded, backlog, ok, disabled
  import  --config FILE [--dry-run] [--disabled]
                        make the registry match the file: add, update and remove,
                        reporting each change; --dry-run only reports

Options:
  -c, --config FILE     a configuration file (the same format and validation as for fetch)
  -m, --mailbox ID      a mailbox id (repeatable)
      --password-stdin  read the mailbox's password from standard input (prompted for,
                        without echo, on a terminal) and seal it into its registry item:
                        the file then needs no "password" (one --mailbox)
      --client-secret-stdin, --refresh-token-stdin
                        the same for OAuth; both together: two lines, in this order
      --client-certificate FILE, --client-key FILE
                        a TLS client certificate and its private key (PEM, no passphrase),
                        checked as a pair and sealed like a password: the identity of
                        "auth": "EXTERNAL", or presented beside a password or OAuth
      --json            one JSON line per mailbox on stdout
  -v, --verbose         debug logs on stderr
  -h, --help            this help

Registry options (where the registry is):
  --local DIR           the embedded DynamoDB under DIR (default ./.mailfetch, as for fetch)
  --table NAME          the DynamoDB state table (default: env MAILFETCH_TABLE), through the
                        AWS SDK's standard configuration (AWS_PROFILE, AWS_REGION,
                        AWS_ENDPOINT_URL_DYNAMODB, ...)
  --create-missing      create the table when it does not exist (with --table)
  --credentials-key KEY the KMS key sealing credentials (default: env MAILFETCH_CREDENTIALS_KEY,
                        the stack output CredentialsKeyArn; --local has its own)

A new mailbox without importing its old mail:
  mailfetch mailboxes add --config new.json --disabled
  mailfetch baseline --mailbox new-box --bucket B --table T
  mailfetch mailboxes enable --mailbox new-box

Exit codes: 0 success, 1 the registry failed or refused a change (its code is printed),
2 usage or configuration error.
`;
