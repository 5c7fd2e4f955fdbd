/**
 * The example's stack: a whole mailfetch deployment (`MailfetchStack`: the fetcher for the
 * configuration's mailboxes) plus a `MailPipeline` for one of them.
 */
import { CfnOutput } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { MailfetchStack, type MailfetchStackProps } from '../../lib/mailfetch-stack';
import { MailPipeline, MailPipelinePropsError } from './pipeline';

export interface MailPipelineStackProps extends MailfetchStackProps {
  /**
   * The mailbox whose mail is parsed.
   * @default the configuration's first mailbox
   */
  readonly pipelineMailbox?: string;
  /**
   * @default 'parsed/'
   */
  readonly outputPrefix?: string;
}

export class MailPipelineStack extends MailfetchStack {
  readonly pipeline: MailPipeline;

  constructor(scope: Construct, id: string, props: MailPipelineStackProps) {
    super(scope, id, props);
    const mailbox = props.pipelineMailbox ?? props.config.mailboxes[0]?.id;
    const ids = props.config.mailboxes.map((m) => m.id);
    // A mailbox added later with the CLI would do too, but here a typo must not pass as one.
    if (mailbox === undefined || !ids.includes(mailbox)) {
      throw new MailPipelinePropsError([`pipelineMailbox: ${JSON.stringify(mailbox)} is not a mailbox of the configuration (${ids.map((i) => JSON.stringify(i)).join(', ') || 'none'})`]);
    }
    this.pipeline = new MailPipeline(this, 'Pipeline', {
      fetcher: this.fetcher,
      mailbox,
      ...(props.outputPrefix === undefined ? {} : { outputPrefix: props.outputPrefix }),
    });
    new CfnOutput(this, 'PipelineOutput', { description: `Attachments and summary.json of each message of ${mailbox}, one folder per event id`, value: this.pipeline.outputFolder });
    new CfnOutput(this, 'PipelineFunctionName', { description: 'The pipeline function (its log has one line per parsed message)', value: this.pipeline.function.functionName });
    new CfnOutput(this, 'PipelineDeadLetterQueueUrl', { description: 'Mail Stored events the pipeline could not handle', value: this.pipeline.deadLetterQueue.queueUrl });
  }
}
