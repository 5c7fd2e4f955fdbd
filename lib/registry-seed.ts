/**
 * `RegistrySeed`: puts the deployed configuration's mailboxes into the mailbox registry at
 * deploy time, as one custom resource (whatever the number of mailboxes) backed by
 * `lambda/handlers/seed-registry.ts` through the CDK Provider framework. The function may
 * write the registry partition of the table and read the one asset holding the list.
 *
 * The list travels as an S3 asset, not as a property: inline, each mailbox costs ~400
 * bytes of template, and CloudFormation stops at 1 MB.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type Function as LambdaFunction, type Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { MailboxConfig } from '../lambda/config/mailbox-config';
import { ENV, SEED_MAILBOXES_BUCKET_PROPERTY, SEED_MAILBOXES_KEY_PROPERTY } from '../lambda/env';
import { REGISTRY_PARTITION } from '../lambda/registry/registry-item';
import { handlerFunction } from './handler-function';

/** What seed-registry.ts sends: Query (list), PutItem (add), UpdateItem (update), DeleteItem (remove). */
const REGISTRY_WRITE_ACTIONS = ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] as const;
/** One single-item write per mailbox changed; DynamoDB answers each in milliseconds. */
const SEED_TIMEOUT = Duration.minutes(5);
const SEED_MEMORY_MIB = 256;

export interface RegistrySeedProps {
  /** The state table holding the registry. */
  readonly table: ITable;
  /** The mailboxes to put into the registry (validated, as `loadConfigFile` returns them). */
  readonly mailboxes: readonly MailboxConfig[];
  /** Same runtime as the fetch function. */
  readonly runtime: Runtime;
  readonly logRetention: RetentionDays;
}

export class RegistrySeed extends Construct {
  readonly function: LambdaFunction;
  readonly resource: CustomResource;
  /** The mailbox list (JSON), uploaded with the deployment's other assets. */
  readonly mailboxesAsset: Asset;

  constructor(scope: Construct, id: string, props: RegistrySeedProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'LogGroup', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'mailfetch registry seeding: its log group, and the registry partition of the state table',
    });
    logGroup.grantWrite(role);
    this.mailboxesAsset = mailboxesAsset(this, props.mailboxes);
    // That one object, not the whole assets bucket (which holds other stacks' templates).
    Grant.addToPrincipal({ grantee: role, actions: ['s3:GetObject'], resourceArns: [this.mailboxesAsset.bucket.arnForObjects(this.mailboxesAsset.s3ObjectKey)] });
    // Only items whose partition key is the registry's: no mailbox state, no message records.
    Grant.addToPrincipal({
      grantee: role,
      actions: [...REGISTRY_WRITE_ACTIONS],
      resourceArns: [props.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [REGISTRY_PARTITION] } },
    });
    this.function = handlerFunction(this, 'Function', 'seed', {
      description: 'mailfetch: puts the deployed configuration\'s mailboxes into the registry (custom resource)',
      runtime: props.runtime,
      architecture: Architecture.ARM_64,
      memorySize: SEED_MEMORY_MIB,
      timeout: SEED_TIMEOUT,
      role,
      logGroup,
      environment: { [ENV.TABLE]: props.table.tableName },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to the fetch function\'s runtime (Node.js 22), which the bundle targets and the tests run on.',
    });
    const provider = new Provider(this, 'Provider', { onEventHandler: this.function });
    acknowledgeProviderFindings(provider, this.function);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::MailfetchRegistrySeed',
      properties: { [SEED_MAILBOXES_BUCKET_PROPERTY]: this.mailboxesAsset.s3BucketName, [SEED_MAILBOXES_KEY_PROPERTY]: this.mailboxesAsset.s3ObjectKey },
    });
  }
}

/** Stages the list as a file asset; its key is its content's hash, so any change is an Update. */
function mailboxesAsset(scope: Construct, mailboxes: readonly MailboxConfig[]): Asset {
  const dir = mkdtempSync(join(tmpdir(), 'mailfetch-registry-'));
  try {
    const path = join(dir, 'mailboxes.json');
    writeFileSync(path, JSON.stringify(mailboxes));
    // The constructor copies the file into the cloud assembly: the temporary copy can go.
    return new Asset(scope, 'Mailboxes', { path });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Provider framework's own function and role are aws-cdk-lib's code: what cdk-nag says of them, and why it is fine. */
function acknowledgeProviderFindings(provider: Provider, seedFunction: LambdaFunction): void {
  const arn = Stack.of(provider).resolve(seedFunction.functionArn) as { 'Fn::GetAtt'?: [string, string] };
  const [logicalId] = arn['Fn::GetAtt'] ?? ['?'];
  Validations.of(provider).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The CDK Provider framework\'s function writes its own logs through AWSLambdaBasicExecutionRole; it runs only during deployments.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
      reason: 'Written by grantInvoke: the Provider framework may invoke the seeding function and its versions (`<arn>:*`).',
    },
  );
}
