/** Help texts: `mailfetch --help` and `mailfetch <command> --help`. */
import { MAILBOXES_USAGE } from './mailboxes-usage';
import { SECRETS_USAGE } from './secrets-usage';

const STORAGE_HELP = `Storage (where messages and state go):
  --local DIR           everything under DIR (Node only): messages as .eml files in
                        DIR/messages/<mailbox>/, state in an embedded DynamoDB in
                        DIR/dynamodb; the default when no bucket and table are given,
                        with DIR = ./.mailfetch
  --bucket NAME         S3 bucket (default: env MAILFETCH_BUCKET); needs --table
  --table NAME          DynamoDB state table (default: env MAILFETCH_TABLE); needs --bucket
  --prefix PREFIX       object key prefix (default: env MAILFETCH_PREFIX, else "messages/")
  --force-path-style    path-style S3 requests (local S3 endpoints: s3rver, MinIO, ...)
  --create-missing      create the bucket and the table when they do not exist
  --event-bus BUS       publish a "Mail Stored" event per stored message to this
                        EventBridge bus, name or ARN (default: env MAILFETCH_EVENT_BUS;
                        none); give it when fetching into a deployment whose pipelines
                        start from these events (with --bucket/--table only)
  With --bucket/--table the AWS SDK's standard configuration applies (AWS_PROFILE,
  AWS_REGION, ...); AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB and
  AWS_ENDPOINT_URL_EVENTBRIDGE point it at any compatible endpoint.`;

const MAILBOX_HELP = `  -c, --config FILE     the configuration file (JSON, as for the Lambda deployment)
  -m, --mailbox ID      only this mailbox (repeatable); default: every mailbox in FILE
      --json            one JSON line per mailbox on stdout (logs stay on stderr)
  -v, --verbose         debug logs on stderr, including the POP3 conversation (redacted)
  -h, --help            this help`;

const REGISTRY_HELP = `Without --config, the mailboxes come from the registry in the state table
('mailfetch mailboxes'): those named with --mailbox, else every enabled one, and each run's
health is written back to it.`;

const EXIT_CODES = `Exit codes: 0 success, 1 a mailbox failed or reported errors, 2 usage or configuration error.`;

const RUN_EXIT_CODES = `Exit codes: 0 success, 1 a mailbox failed, was busy or reported errors, 2 usage or
configuration error, 130 interrupted by Ctrl-C (143: by SIGTERM).`;

const INTERRUPT_HELP = `Ctrl-C (or SIGTERM) stops cleanly: no new message is started, the ones in flight are stored
and recorded (for at most 10 s, then the session is cut off without QUIT, which loses
nothing), the session ends, the mailbox's lease is released and its summary says
"interrupted"; mailboxes not yet started are not run. A second Ctrl-C exits at once and
still releases the lease (the session ends without QUIT: nothing is lost either).`;

export const MAIN_USAGE = `mailfetch - fetch only-new mail from POP3 mailboxes into S3, with UIDL state in DynamoDB.
The same code the Lambda function runs, from the command line.

Usage: mailfetch <command> [options]

Commands:
  init       write a starter configuration file (mailfetch.config.json)
  check      connect to each mailbox and report TLS, capabilities, login and message
             counts; read-only (no DELE, no writes)
  fetch      fetch the new messages into S3 and record them in the state table
  baseline   record every message now on the server as seen, without fetching it
  reset      forget a mailbox's state: the next fetch fetches everything again
  unlock     free a mailbox whose run lease is held by a run that is gone
  mailboxes  manage the mailbox registry: add, update, remove, enable, disable, list,
             status, import
  secrets    seal a credential for a configuration file; rotate the data key
  demo       run the whole pipeline on a local POP3 server into .eml files + embedded state

Run 'mailfetch <command> --help' for a command's options.

Examples:
  mailfetch demo
  mailfetch init --host pop.example.org --username me@example.org
  mailfetch check --config mailfetch.config.json
  mailfetch fetch --config mailfetch.config.json --mailbox support
  mailfetch fetch --config mailfetch.config.json --bucket my-mail --table mailfetch-state

${RUN_EXIT_CODES}
`;

export const CHECK_USAGE = `Usage: mailfetch check [--config FILE] [--mailbox ID] [--json] [storage options]

Connects to each selected mailbox and reports: the TLS protocol, cipher and certificate
(subject, issuer, expiry, verified), the authentication mechanism used and its result,
the capabilities (CAPA after login), the server's policy (EXPIRE, LOGIN-DELAY; a
retention it overrules is a warning) and, under a LOGIN-DELAY, when scheduled runs log in
next, the message count and size (STAT), and how many messages are new (UIDL minus what
the state table records). Read-only: ends with QUIT and no DELE, writes nothing to S3 or
the state table.

Options:
${MAILBOX_HELP}

"New" is counted against the same store fetch uses: ./.mailfetch unless storage options
(or MAILFETCH_BUCKET/MAILFETCH_TABLE) say otherwise; a store where nothing was fetched yet
counts every message as new. Without --config, the mailboxes come from the registry in
that store (disabled ones included).

${STORAGE_HELP}

${EXIT_CODES}
`;

export const FETCH_USAGE = `Usage: mailfetch fetch [--config FILE] [--mailbox ID] [--mode fetch|baseline] [--json] [storage options]

Runs each selected mailbox once, one after the other, exactly as the scheduled Lambda
function does: new messages are stored in S3 byte-exact, recorded in the state table,
and deleted on the server when the mailbox's retention says so.

Options:
${MAILBOX_HELP}
      --mode MODE       fetch (default), or baseline: record what is on the server as
                        seen without fetching it
      --time-limit SEC  stop starting new messages in time to finish within SEC seconds
                        (default 900, like the longest Lambda run)

${REGISTRY_HELP}

Output: a progress line per mailbox on a terminal, then a summary per mailbox. With --json,
exactly one JSON line per mailbox:
  {"mailbox":"support","listed":12,"new":3,"fetched":3,"bytes":18842,"skipped":0,
   "deleted":0,"duplicates":0,"complete":true,"errors":[],"status":"ok",...}
Each error is {"code","message","retryable"[,"uid"]}; fields after "errors" may be added.
A busy mailbox's line has "heldBy":{"owner","holder","until"}: who holds its lease, until when.

${INTERRUPT_HELP}

${STORAGE_HELP}

${RUN_EXIT_CODES}
`;

export const BASELINE_USAGE = `Usage: mailfetch baseline [--config FILE] [--mailbox ID] [--json] [storage options]

The same as 'mailfetch fetch --mode baseline': records every message now on the server as
seen, without fetching it, so that only mail arriving later is fetched. Use it once when
taking over a mailbox whose old mail you do not want in S3.

Options:
${MAILBOX_HELP}
      --time-limit SEC  as for fetch (default 900)

${REGISTRY_HELP} A disabled mailbox can be baselined (then enabled).

Ctrl-C stops cleanly, as for fetch.

${STORAGE_HELP}

${RUN_EXIT_CODES}
`;

export const UNLOCK_USAGE = `Usage: mailfetch unlock [--config FILE] --mailbox ID [--force] [--json] [storage options]

Frees the run lease of one mailbox whose holder is gone (a fetch killed with SIGKILL, a
machine that went down). Until the lease expires by itself (the run's time limit plus 60 s),
every fetch of the mailbox ends as "busy", naming the holder and the time. Only the lease
goes: records and summary stay, so nothing is fetched twice (unlike reset).

Without --force the lease is released only when it has expired, or when its holder is a
mailfetch run on this host whose process no longer runs. A holder elsewhere (another host,
Lambda, or a lease that does not say) cannot be checked from here: then nothing happens
(exit 2) unless --force is given. Never force a lease whose run may still be going: two
runs at once on one mailbox are what the lease prevents.

Options:
  -c, --config FILE     the configuration file; without it, the mailbox is looked up in
                        the registry of the state table
  -m, --mailbox ID      the mailbox to unlock (required, exactly one)
      --force           release the lease whoever holds it
      --json            one JSON line: {"mailbox","released"[,"owner","holder","forced"]}
  -v, --verbose         debug logs on stderr
  -h, --help            this help

${STORAGE_HELP}

${EXIT_CODES}
`;

export const RESET_USAGE = `Usage: mailfetch reset [--config FILE] --mailbox ID --yes [--json] [storage options]

Forgets everything recorded for one mailbox (message records, listing summary, lease). The
next fetch treats every message on the server as new and stores it again under the same
object key (objects already in S3 are overwritten with the same bytes, not duplicated).

Options:
  -c, --config FILE     the configuration file; without it, the mailbox is looked up in
                        the registry of the state table (its registry item stays)
  -m, --mailbox ID      the mailbox to reset (required, exactly one)
      --yes             confirm; without it nothing happens
      --json            one JSON line: {"mailbox","removed"}
  -v, --verbose         debug logs on stderr
  -h, --help            this help

${STORAGE_HELP}

${EXIT_CODES}
`;

export const INIT_USAGE = `Usage: mailfetch init [--config FILE] [--id ID] [--host HOST] [--username USER] [--force]

Writes a starter configuration file with one mailbox (password from the environment
variable MAILFETCH_PASSWORD) that validates as it is, with "$schema" naming the JSON Schema
shipped in this package (schema/mailfetch.config.schema.json) so editors complete and
check the file. Then prints what to run next.

Options:
  -c, --config FILE     the file to write (default: mailfetch.config.json)
      --id ID           the mailbox id (default: inbox)
      --host HOST       the POP3 server (default: a placeholder, pop.example.com)
      --username USER   the POP3 user name (default: a placeholder)
      --force           overwrite FILE if it exists (without it, an existing file is an error)
  -h, --help            this help

${EXIT_CODES}
`;

export const DEMO_USAGE = `Usage: mailfetch demo [--dir DIR]

Runs the whole pipeline on this machine with nothing but Node: starts a POP3 server with
sample mail on 127.0.0.1 and the --local storage, checks the mailbox, fetches twice (the
second run finds nothing new), delivers more mail, fetches again, and shows the .eml files
and where they are.

Options:
      --dir DIR         keep the messages and the state under DIR (default: a new
                        temporary directory, kept afterwards so you can look at it)
  -v, --verbose         debug logs on stderr, including the POP3 conversation
  -h, --help            this help

Exit codes: 0 success, 1 the demo failed, 2 usage error.
`;

export const USAGE_BY_COMMAND: Readonly<Record<string, string>> = {
  check: CHECK_USAGE,
  fetch: FETCH_USAGE,
  baseline: BASELINE_USAGE,
  reset: RESET_USAGE,
  unlock: UNLOCK_USAGE,
  demo: DEMO_USAGE,
  init: INIT_USAGE,
  mailboxes: MAILBOXES_USAGE,
  secrets: SECRETS_USAGE,
};
