/**
 * mailfetch used from another CDK app: the construct with plain mailbox objects, validated
 * and defaulted like the CLI's configuration file. `npm run build` compiles this to
 * CommonJS (`require('mailfetch')`), as a `cdk init app --language typescript` project does.
 */
import { App, Stack } from 'aws-cdk-lib';
import { MailFetcher } from 'mailfetch';

const app = new App();
const stack = new Stack(app, 'MailfetchConsumer');

new MailFetcher(stack, 'Mail', {
  mailboxes: [
    {
      id: 'support',
      host: 'pop.example.org',
      username: 'support@example.org',
      // A Secrets Manager secret named under the construct's secretNamePrefix ('mailfetch/').
      password: { secretId: 'mailfetch/support' },
      schedule: 'rate(10 minutes)',
    },
  ],
});

app.synth();
